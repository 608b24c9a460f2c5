// A recording sink for the receive-side decoders (sw_rx_sink_t: SerialPacker, the lossless
// stream): a transcript of messages, console runs and drops, compared with the transcript a
// test expects. Adjacent console runs are merged, so how the decoder batches them does not
// matter. One per test program: got (what the decoder delivered) and want.
#ifndef SW_TEST_RX_REC_H
#define SW_TEST_RX_REC_H

#include "testutil.h"

typedef struct ev {
    char kind; // 'm' message, 'c' console, 'd' drop
    int err;
    size_t off, n;
} ev_t;

typedef struct rec {
    uint8_t arena[1 << 21];
    size_t used;
    ev_t ev[1 << 14];
    size_t nev;
    size_t con_calls; // console callbacks (before merging)
} rec_t;

static rec_t got, want;

static void rec_reset(rec_t *r)
{
    r->used = 0;
    r->nev = 0;
    r->con_calls = 0;
}

static void rec_add(rec_t *r, char kind, int err, const uint8_t *p, size_t n)
{
    if (r->used + n > sizeof r->arena)
        fail_msg("recorder arena full");
    if (kind == 'c' && n == 0)
        return;
    if (n)
        memcpy(r->arena + r->used, p, n);
    if (kind == 'c' && r->nev && r->ev[r->nev - 1].kind == 'c') {
        r->ev[r->nev - 1].n += n;
    } else {
        if (r->nev == sizeof r->ev / sizeof *r->ev)
            fail_msg("recorder events full");
        r->ev[r->nev++] = (ev_t){kind, err, r->used, n};
    }
    r->used += n;
}

// The common events first (the first difference is the telling one), then the counts.
static void rec_same(const rec_t *a, const rec_t *b)
{
    size_t n = a->nev < b->nev ? a->nev : b->nev;
    for (size_t k = 0; k < n; k++) {
        const ev_t *x = &a->ev[k], *y = &b->ev[k];
        if (x->kind != y->kind || x->err != y->err || x->n != y->n ||
            memcmp(a->arena + x->off, b->arena + y->off, x->n) != 0)
            fail_msg("event %zu differs: got %c/%d/%zu, want %c/%d/%zu", k, x->kind, x->err, x->n,
                     y->kind, y->err, y->n);
    }
    assert_int_equal(a->nev, b->nev);
}

#endif
