/* SPDX-License-Identifier: GPL-2.0 */
/* The probe's own header, found through the probe directory's include path. */
#ifndef FALCO_TEST_MAPS_H
#define FALCO_TEST_MAPS_H
#define SEC(name) __attribute__((section(name), used))
#endif
