// Fuzz target: the serial framing the authenticated mode shares between node and host
// (swarm/noise_line.h, src/auth/line.c): the hunt for a 4-byte mark in a lossless line's
// stream that arrives in pieces (node: the preamble; host: the node's LOCKED / OPEN answer),
// and the bin item around a lossy line's frame. Checked against a naive model of the whole
// stream: every mark is found where it ends and nowhere else, the bytes handed on as "before
// the mark" are exactly the stream's bytes between the previous mark and this one (within the
// read), and nothing is read out of bounds (ASan); unwrap accepts exactly what wrap makes.
//
// Input: [mode] then pieces [len][bytes...] fed one read at a time. mode bit 0: the host's two
// marks instead of the node's one.
#include <stdlib.h>
#include <string.h>

#include "swarm/noise.h"
#include "swarm/noise_line.h"

#define MAXS 4096

static void check(bool ok)
{
    if (!ok)
        abort();
}

// A piece of input as a bin-wrapped message: unwrap must agree with a plain reading of it.
static void bins(const uint8_t *p, size_t n)
{
    const uint8_t *body;
    size_t len;
    bool ok = sw_noise_bin_unwrap(p, n, &body, &len);
    bool want = (n >= 2 && p[0] == 0xc4 && p[1] == n - 2) ||
                (n >= 3 && p[0] == 0xc5 && ((size_t)p[1] << 8 | p[2]) == n - 3);
    check(ok == want);
    if (!ok)
        return;
    check(body >= p && body + len == p + n);
    uint8_t w[MAXS + SW_NOISE_BIN_HDR];
    size_t k = sw_noise_bin_wrap(w, sizeof w, body, len);
    // a bin 16 of under 256 bytes is accepted but written back as bin 8
    check(k == len + (len < 256 ? 2 : 3));
    check(memcmp(w + k - len, body, len) == 0);
    const uint8_t *b2;
    size_t l2;
    check(sw_noise_bin_unwrap(w, k, &b2, &l2) && l2 == len && b2 == w + k - len);
    check(sw_noise_bin_wrap(w, k - 1, body, len) == 0); // one byte short: refused
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAXS)
        return 0;
    bool host = data[0] & 1;
    const uint32_t node_marks[1] = {sw_noise_mark_word(SW_NOISE_PREAMBLE)};
    const uint32_t host_marks[2] = {sw_noise_mark_word(SW_NOISE_LINE_LOCKED),
                                    sw_noise_mark_word(SW_NOISE_LINE_OPEN)};
    const uint32_t *marks = host ? host_marks : node_marks;
    unsigned nmarks = host ? 2 : 1;
    static uint8_t stream[MAXS];
    size_t sn = 0;      // bytes of the stream so far
    size_t after = 0;   // stream offset just after the last mark found
    uint32_t win = 0, model = 0;
    size_t at = 1;
    while (at < size) {
        size_t len = data[at++];
        if (len > size - at)
            len = size - at;
        const uint8_t *piece = data + at; // one read: the pieces are fed where they lie
        at += len;
        bins(piece, len);
        size_t off = 0, start = sn; // stream offset of piece[0]
        memcpy(stream + sn, piece, len);
        sn += len;
        while (off < len) {
            unsigned which = 99;
            size_t before = 99, k = sw_noise_line_hunt(&win, piece + off, len - off, marks, nmarks,
                                                       &which, &before);
            // the model: where the next mark ends, byte by byte
            size_t end = 0;
            unsigned mwhich = 0;
            for (size_t i = off; i < len && !end; i++) {
                model = model << 8 | piece[i];
                for (unsigned m = 0; m < nmarks; m++)
                    if (model == marks[m])
                        end = i + 1 - off, mwhich = m;
            }
            check(k == end);
            check(k <= len - off);
            if (!k)
                break;
            check(which == mwhich && which < nmarks);
            size_t mark_at = start + off + k - 4; // the mark's first byte in the stream
            check(start + off + k >= 4 && mark_at >= after);
            check(memcmp(stream + mark_at, host ? (which ? SW_NOISE_LINE_OPEN : SW_NOISE_LINE_LOCKED)
                                                : SW_NOISE_PREAMBLE, 4) == 0);
            // before: the bytes of this read ahead of the mark, no more
            size_t lo = start + off;
            check(before == (mark_at > lo ? mark_at - lo : 0));
            check(before < k);
            after = start + off + k;
            off += k;
        }
        check(win == model);
    }
    return 0;
}
