/* SPDX-License-Identifier: LGPL-2.0-or-later */
#pragma once

/* Brings "lo" up in the current network namespace; the kernel then gives it
 * 127.0.0.1 and ::1 by itself. */
int network_loopback_up(void);
