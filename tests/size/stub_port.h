// Hooks of the size build's stub port (tests/size/stub_port.c). The port defines them weakly
// for the bare board; tests/size/probe.c overrides them to run the same firmware under QEMU.
#ifndef SW_SIZE_STUB_PORT_H
#define SW_SIZE_STUB_PORT_H

#include "swarm/node.h"

enum { SW_SIZE_CREATED = 1, SW_SIZE_STARTED = 2, SW_SIZE_IDLE = 3 };

uint32_t sw__size_now(void);                        // ms, wraps
void sw__size_tx(const uint8_t *p, size_t n);       // bytes to the serial line (blocking)
size_t sw__size_rx(uint8_t *buf, size_t cap);       // bytes from the serial line (0: none)
void sw__size_log(int level, const char *line, size_t n);
// Called after sw_node_create(), after sw_node_start() and once per loop pass (IDLE); returning
// false from IDLE ends the loop.
bool sw__size_event(int what, sw_node_t *n);

// Bytes the node holds through the port's alloc() (requested sizes, not malloc's overhead).
extern size_t sw__size_heap_now, sw__size_heap_peak, sw__size_allocs;

#endif
