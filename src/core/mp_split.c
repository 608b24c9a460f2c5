// MsgPack splitter: finds where each top-level item ends in a byte stream that arrives in
// pieces, using libmpack's incremental tokenizer (it keeps partial tokens across calls), and
// gathers the item's bytes into a caller buffer. Oversize items are followed but not stored.
#include <string.h>
#include <stdbool.h> // before mpack.h, which otherwise defines its own 'bool'

#include "mpack.h"
#include "swarm/mp.h"

_Static_assert(sizeof(mpack_tokbuf_t) <= sizeof(((sw_mps_t *)0)->tok_),
               "sw_mps_t.tok_ too small for libmpack's tokenizer state");

static mpack_tokbuf_t *tokbuf(sw_mps_t *s) { return (mpack_tokbuf_t *)(void *)s->tok_; }

void sw_mps_init(sw_mps_t *s, void *buf, size_t cap)
{
    s->buf = buf;
    s->cap = buf ? cap : 0;
    s->strict = false;
    sw_mps_reset(s);
}

// Strict mode: true when the item cannot fit once this token (took bytes, not counted in total
// yet) and what it announces are in. total, not len: the bytes of a partial token that did not
// fit were not stored, but they are part of the item.
static bool overflows(const sw_mps_t *s, size_t took, const mpack_token_t *tok)
{
    uint64_t need = (uint64_t)s->total + took;
    switch (tok->type) {
    case MPACK_TOKEN_STR:
    case MPACK_TOKEN_BIN:
    case MPACK_TOKEN_EXT: need += tok->length; break;
    case MPACK_TOKEN_ARRAY: need += tok->length; break;          // each element is a byte at least
    case MPACK_TOKEN_MAP: need += 2 * (uint64_t)tok->length; break;
    default: break;
    }
    return need > s->cap;
}

void sw_mps_reset(sw_mps_t *s)
{
    s->len = 0;
    s->total = 0;
    s->err = 0;
    s->skipping = false;
    s->ready = false;
    s->depth = 0;
    s->blob_left = 0;
    mpack_tokbuf_init(tokbuf(s));
}

bool sw_mps_busy(const sw_mps_t *s)
{
    return !s->ready && (s->len > 0 || s->depth > 0 || s->skipping || s->blob_left > 0);
}

// Stores consumed bytes, or switches to skipping when the item outgrows the buffer.
static void keep(sw_mps_t *s, const uint8_t *p, size_t n)
{
    s->total += n;
    if (s->skipping)
        return;
    if (s->cap - s->len < n) {
        s->skipping = true;
        return;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
}

// One item (or a blob's last chunk) has ended: close exhausted containers. True when the
// top-level item is complete.
static bool settle(sw_mps_t *s)
{
    while (s->depth && s->left[s->depth - 1] == 0)
        s->depth--;
    return s->depth == 0;
}

int sw_mps_feed(sw_mps_t *s, const uint8_t *data, size_t n, size_t *used)
{
    size_t at = 0;
    *used = 0;
    if (s->err)
        return s->err;
    if (s->ready) {
        s->ready = false;
        s->len = s->total = 0;
    }
    mpack_tokbuf_t *tb = tokbuf(s);
    while (at < n) {
        const char *b = (const char *)data + at;
        size_t bl = n - at;
        mpack_token_t tok;
        int st = mpack_read(tb, &b, &bl, &tok);
        size_t took = (size_t)((const uint8_t *)b - (data + at));
        if (st == MPACK_ERROR) {
            s->err = SW_EPROTO;
            *used = at;
            return s->err;
        }
        if (st != MPACK_EOF && s->strict && tok.type != MPACK_TOKEN_CHUNK && overflows(s, took, &tok)) {
            // abandon the item; whatever follows this token is read as a new one
            sw_mps_reset(s);
            *used = at + took;
            return SW_ETOOBIG;
        }
        keep(s, data + at, took);
        at += took;
        if (st == MPACK_EOF) // partial token kept inside the tokenizer
            break;

        bool ended = false;
        switch (tok.type) {
        case MPACK_TOKEN_CHUNK:
            s->blob_left -= tok.length;
            ended = s->blob_left == 0 && settle(s);
            break;
        case MPACK_TOKEN_STR:
        case MPACK_TOKEN_BIN:
        case MPACK_TOKEN_EXT:
            if (s->depth)
                s->left[s->depth - 1]--;
            s->blob_left = tok.length;
            ended = tok.length == 0 && settle(s);
            break;
        case MPACK_TOKEN_ARRAY:
        case MPACK_TOKEN_MAP: {
            uint64_t count = tok.type == MPACK_TOKEN_ARRAY ? tok.length : 2 * (uint64_t)tok.length;
            if (s->depth)
                s->left[s->depth - 1]--;
            if (count) {
                if (s->depth >= SW_MP_MAX_DEPTH) {
                    s->err = SW_EDEPTH;
                    *used = at;
                    return s->err;
                }
                // A count can exceed 32 bits only for maps of > 2^31 pairs, which no stream of
                // ours can carry; clamp so the item is still followed (and skipped as oversize).
                s->left[s->depth++] = count > 0xffffffffu ? 0xffffffffu : (uint32_t)count;
            } else {
                ended = settle(s);
            }
            break;
        }
        default: // nil, bool, ints, floats
            if (s->depth)
                s->left[s->depth - 1]--;
            ended = settle(s);
            break;
        }
        if (ended) {
            *used = at;
            if (s->skipping) {
                s->skipping = false;
                s->len = s->total = 0;
                return SW_ETOOBIG;
            }
            s->ready = true;
            return 1;
        }
    }
    *used = at;
    return 0;
}
