// posix-sim: a simulated board for the POSIX node, so apps, demos and tests have hardware to
// talk to. Commands under "board": temp() → °C (float: 21 °C plus a slow ±1.5 °C sine with a
// 10-minute period plus ±0.05 °C of deterministic noise), led(v) → get/set the LED (each change
// is logged "LED on" / "LED off", so a person or a test can watch it blink), info().
#include "profile.h"
#if SW_WITH_BOARD_POSIX_SIM
#include <math.h>
#include <string.h>

#include "node_int.h"

extern const sw_board_t sw__board_posix_sim;

typedef struct sim {
    int dir;
    bool led;
    uint32_t changes;
    sw_cmd_def_t defs[3];
} sim_t;

static sim_t *sim_of(const sw_call_t *c) { return ((sw_node_t *)c->def->user)->board_state; }

// Deterministic noise in [-1, 1] from the second we are in (xorshift-multiply hash).
static double noise(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return (double)(x & 0xFFFF) / 32767.5 - 1.0;
}

static int cmd_temp(sw_call_t *c)
{
    sw_node_t *n = c->def->user;
    uint32_t t = sw_node_now(n) - n->boot_ms;
    double v = 21.0 + 1.5 * sin(2.0 * 3.14159265358979 * (double)t / 600000.0) + 0.05 * noise(t / 1000);
    sw_mpw_f64(c->out, round(v * 100.0) / 100.0);
    return 0;
}

static int cmd_led(sw_call_t *c)
{
    sw_node_t *n = c->def->user;
    sim_t *s = sim_of(c);
    sw_span_t raw;
    if (sw_call_arg(c, "v", &raw) == 0 && !sw_call_arg_is_none(c, "v")) {
        sw_mpr_t r;
        sw_mp_obj_t o;
        sw_mpr_init(&r, raw.p, raw.n);
        bool on;
        if (sw_mpr_next(&r, &o))
            return sw_call_fail(c, SW_EPROTO, "led: bad v");
        if (o.type == SW_MP_BOOL)
            on = o.v.b;
        else if (o.type == SW_MP_UINT || o.type == SW_MP_INT)
            on = o.v.u != 0;
        else
            return sw_call_fail(c, SW_ETYPE, "led: v must be a bool (or 0/1)");
        if (on != s->led) {
            s->led = on;
            s->changes++;
            sw_log(n, SW_LOG_INFO, "board: LED %s", on ? "on" : "off");
        }
    }
    sw_mpw_bool(c->out, s->led);
    return 0;
}

static int cmd_info(sw_call_t *c)
{
    sim_t *s = sim_of(c);
    sw_mpw_map(c->out, 4);
    sw_mpw_cstr(c->out, "name");
    sw_mpw_cstr(c->out, sw__board_posix_sim.name);
    sw_mpw_cstr(c->out, "sensors");
    sw_mpw_array(c->out, 1);
    sw_mpw_cstr(c->out, "temp");
    sw_mpw_cstr(c->out, "actuators");
    sw_mpw_array(c->out, 1);
    sw_mpw_cstr(c->out, "led");
    sw_mpw_cstr(c->out, "led_changes");
    sw_mpw_uint(c->out, s->changes);
    return 0;
}

static void sim_stop(sw_node_t *n)
{
    sim_t *s = n->board_state;
    if (!s)
        return;
    if (s->dir >= 0)
        sw_tree_remove(&n->tree, s->dir);
    n->board_state = NULL;
    sw_node_release(n, s, sizeof *s);
}

static int sim_init(sw_node_t *n)
{
    if (n->board_state)
        return SW_EBUSY;
    sim_t *s = sw_node_alloc(n, sizeof *s);
    if (!s)
        return SW_EFULL;
    s->defs[0] = (sw_cmd_def_t){"temp", NULL, "temperature in °C (simulated)", cmd_temp, n};
    s->defs[1] = (sw_cmd_def_t){"led", "v", "get the LED, or set it with v (bool)", cmd_led, n};
    s->defs[2] = (sw_cmd_def_t){"info", NULL, "this board: name, sensors, actuators", cmd_info, n};
    n->board_state = s;
    s->dir = sw_tree_add_dir(&n->tree, SW_TREE_ROOT, "board", "posix-sim: simulated hardware");
    int err = s->dir < 0 ? s->dir : 0;
    for (size_t i = 0; i < 3 && !err; i++) {
        int id = sw_tree_add_cmd(&n->tree, s->dir, &s->defs[i]);
        err = id < 0 ? id : 0;
    }
    if (err)
        sim_stop(n);
    return err;
}

const sw_board_t sw__board_posix_sim = {
    .name = "posix-sim",
    .doc = "simulated board: temperature sensor and an LED",
    .init = sim_init,
    .stop = sim_stop,
};

#endif // SW_WITH_BOARD_POSIX_SIM
