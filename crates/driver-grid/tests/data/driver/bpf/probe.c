// SPDX-License-Identifier: GPL-2.0
/*
 * A small eBPF program standing in for Falco's probe: built against the kernel's own headers
 * (task_struct from linux/sched.h), it records the kernel version it was built for in a
 * "version" section, as Falco's legacy probe does.
 */
#include <linux/version.h>
#include <linux/types.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <uapi/linux/bpf.h>

#include "maps.h"

static long (*bpf_trace_printk)(const char *fmt, __u32 fmt_size, ...) =
	(void *)BPF_FUNC_trace_printk;

SEC("raw_tracepoint/sys_enter")
int falco_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	char fmt[] = "sys_enter %ld (task_struct is %d bytes)\n";

	bpf_trace_printk(fmt, sizeof(fmt), (long)ctx->args[1],
			 (int)sizeof(struct task_struct));
	return 0;
}

char __license[] SEC("license") = "GPL";
__u32 __version SEC("version") = LINUX_VERSION_CODE;
