// SPDX-License-Identifier: GPL-2.0
/* A small kernel module standing in for Falco's driver in the driver-grid build tests. */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/version.h>

#ifdef FALCO_TEST_COMPILE_ERROR
#error "this build fails on purpose (driver-grid test: compile error in the driver source)"
#endif

static int __init falco_test_init(void)
{
	pr_info("falco test driver loaded into %s\n", current->comm);
	return 0;
}

static void __exit falco_test_exit(void)
{
}

module_init(falco_test_init);
module_exit(falco_test_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("driver-grid test module");
MODULE_VERSION("0.0.1");
