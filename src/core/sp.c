// SerialPacker framer and deframer (docs/PROTOCOL.md, "Serial, lossy"). The deframer is a byte
// state machine that copies payload runs in bulk and keeps the CRC running as bytes arrive, so
// each byte is touched once. Console bytes between frames are handed on as contiguous runs
// pointing into the caller's input.
#include <string.h>

#include "swarm/sp.h"

enum {
    ST_IDLE, // between frames: console bytes, or (no start byte) the next byte is a length
    ST_LEN1, // start byte seen, length follows
    ST_LEN2, // second byte of a 2-byte length follows
    ST_DATA, // payload
    ST_CRC1, // CRC high byte
    ST_CRC2, // CRC low byte
};

static int norm_start(int start)
{
    return start >= 0 && start <= 255 ? start : SW_SP_START_NONE;
}

static uint16_t norm_max(uint16_t max)
{
    return max > SW_SP_MAX_FRAME_LIMIT ? SW_SP_MAX_FRAME_LIMIT : max;
}

void sw_sp_cfg_default(sw_sp_cfg_t *c)
{
    c->start = SW_SP_START_DEFAULT;
    c->max_frame = 127;
    c->idle_ms = 100;
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Encoding

size_t sw_sp_header(const sw_sp_cfg_t *c, size_t n, uint8_t hdr[3])
{
    uint16_t max = norm_max(c->max_frame);
    int start = norm_start(c->start);
    size_t k = 0;
    if (n == 0 || n > max)
        return 0;
    if (start != SW_SP_START_NONE)
        hdr[k++] = (uint8_t)start;
    // The 2-byte form exists only when the receiver can tell it apart: with max_frame <= 255
    // a first length byte of 128..255 is a plain 1-byte length.
    if (max > 255 && n > 127) {
        hdr[k++] = (uint8_t)((n & 0x7F) | 0x80);
        hdr[k++] = (uint8_t)(n >> 7);
    } else {
        hdr[k++] = (uint8_t)n;
    }
    return k;
}

void sw_sp_trailer(const void *payload, size_t n, uint8_t tr[2])
{
    uint16_t crc = sw_crc16(0, payload, n);
    tr[0] = (uint8_t)(crc >> 8);
    tr[1] = (uint8_t)crc;
}

int sw_sp_encode(const sw_sp_cfg_t *c, const void *payload, size_t n, uint8_t *out, size_t cap)
{
    uint8_t hdr[3];
    size_t k = sw_sp_header(c, n, hdr);
    if (k == 0)
        return SW_ETOOBIG;
    if (!out || cap < k + n + 2)
        return SW_EFULL;
    memcpy(out, hdr, k);
    memcpy(out + k, payload, n);
    sw_sp_trailer(payload, n, out + k + n);
    return (int)(k + n + 2);
}

//////////////////////////////////////////////////////////////////////////////////////////////
// Decoding

void sw_sp_rx_init(sw_sp_rx_t *rx, const sw_sp_cfg_t *cfg, void *buf, size_t cap)
{
    memset(rx, 0, sizeof *rx);
    if (cfg)
        rx->cfg = *cfg;
    else
        sw_sp_cfg_default(&rx->cfg);
    rx->cfg.start = norm_start(rx->cfg.start);
    rx->cfg.max_frame = norm_max(rx->cfg.max_frame);
    if (!buf)
        cap = 0;
    if (cap < rx->cfg.max_frame)
        rx->cfg.max_frame = (uint16_t)cap;
    rx->buf = buf;
    rx->state = ST_IDLE;
}

// Continuation bytes that follow a UTF-8 lead byte. 0xF8..0xFF lead nothing in UTF-8.
static uint8_t utf8_trail(uint8_t b)
{
    if ((b & 0xE0) == 0xC0)
        return 1;
    if ((b & 0xF0) == 0xE0)
        return 2;
    if ((b & 0xF8) == 0xF0)
        return 3;
    return 0;
}

static void drop(sw_sp_rx_t *rx, const sw_rx_sink_t *sink, int err)
{
    rx->state = ST_IDLE;
    if (sink && sink->drop)
        sink->drop(sink->ctx, err);
}

static void bad_len(sw_sp_rx_t *rx, const sw_rx_sink_t *sink, int err)
{
    rx->stats.err_len++;
    drop(rx, sink, err);
}

static void begin_data(sw_sp_rx_t *rx, uint16_t need)
{
    rx->need = need;
    rx->len = 0;
    rx->crc = 0;
    rx->state = ST_DATA;
}

// A line that went quiet for idle_ms ends whatever was in progress: a frame (dropped) and a
// UTF-8 sequence (forgotten, as the original does).
static void check_idle(sw_sp_rx_t *rx, uint32_t now_ms, const sw_rx_sink_t *sink)
{
    if (rx->cfg.idle_ms == 0 || (int32_t)(now_ms - rx->last_ms) < (int32_t)rx->cfg.idle_ms)
        return;
    rx->utf8_left = 0;
    if (rx->state != ST_IDLE) {
        rx->stats.err_idle++;
        drop(rx, sink, SW_ETIMEDOUT);
    }
}

void sw_sp_rx_tick(sw_sp_rx_t *rx, uint32_t now_ms, const sw_rx_sink_t *sink)
{
    check_idle(rx, now_ms, sink);
}

// Idle state with a start byte: passes console bytes up to the next start byte in one run.
// Returns the bytes consumed, including the start byte if one was found.
static size_t idle_run(sw_sp_rx_t *rx, const uint8_t *p, size_t n, const sw_rx_sink_t *sink)
{
    uint8_t start = (uint8_t)rx->cfg.start;
    size_t i = 0;
    bool found = false;
    while (i < n) {
        uint8_t b = p[i];
        // UTF-8 guard: the continuation bytes (10xxxxxx) of a character whose lead byte was
        // console are console too, even when one equals the start byte (e.g. 0x85). MoaT's
        // SerialPacker passes one byte fewer; we pass the full sequence, and stop early at a
        // byte that is not a continuation byte so a cut-off character cannot hide a start byte.
        if (rx->utf8_left) {
            if ((b & 0xC0) == 0x80) {
                rx->utf8_left--;
                i++;
                continue;
            }
            rx->utf8_left = 0;
        }
        if (b == start) {
            found = true;
            break;
        }
        if (b >= 0xC0)
            rx->utf8_left = utf8_trail(b);
        i++;
    }
    if (i) {
        rx->stats.console += (uint32_t)i;
        if (sink && sink->console)
            sink->console(sink->ctx, p, i);
    }
    if (found) {
        rx->state = ST_LEN1;
        i++;
    }
    return i;
}

void sw_sp_rx_feed(sw_sp_rx_t *rx, const uint8_t *p, size_t n, uint32_t now_ms, const sw_rx_sink_t *sink)
{
    if (n == 0)
        return;
    // All n bytes arrived at now_ms, so only the first can follow a gap.
    check_idle(rx, now_ms, sink);
    rx->last_ms = now_ms;

    uint16_t max = rx->cfg.max_frame;
    size_t i = 0;
    while (i < n) {
        uint8_t st = rx->state;
        if (st == ST_IDLE) {
            if (rx->cfg.start != SW_SP_START_NONE) {
                i += idle_run(rx, p + i, n - i, sink);
                continue;
            }
            st = ST_LEN1; // no start byte: a frame begins with its length
        }
        if (st == ST_DATA) {
            size_t k = (size_t)(rx->need - rx->len);
            if (k > n - i)
                k = n - i;
            memcpy(rx->buf + rx->len, p + i, k);
            rx->crc = sw_crc16(rx->crc, p + i, k);
            rx->len = (uint16_t)(rx->len + k);
            i += k;
            if (rx->len == rx->need)
                rx->state = ST_CRC1;
            continue;
        }
        uint8_t b = p[i++];
        switch (st) {
        case ST_LEN1:
            if (b == 0)
                bad_len(rx, sink, SW_EPROTO);
            else if (max > 255 && (b & 0x80)) {
                rx->need = b & 0x7F;
                rx->state = ST_LEN2;
            } else if (b > max)
                bad_len(rx, sink, SW_ETOOBIG);
            else
                begin_data(rx, b);
            break;
        case ST_LEN2: {
            uint16_t need = (uint16_t)(rx->need | (uint16_t)b << 7);
            // A sender uses the 2-byte form only for 128+ bytes; anything shorter is noise.
            if (need < 128)
                bad_len(rx, sink, SW_EPROTO);
            else if (need > max)
                bad_len(rx, sink, SW_ETOOBIG);
            else
                begin_data(rx, need);
            break;
        }
        case ST_CRC1:
            rx->crc_rx = (uint16_t)(b << 8);
            rx->state = ST_CRC2;
            break;
        default: // ST_CRC2
            rx->crc_rx |= b;
            if (rx->crc_rx != rx->crc) {
                rx->stats.err_crc++;
                drop(rx, sink, SW_ECRC);
                break;
            }
            rx->state = ST_IDLE;
            rx->stats.frames++;
            if (sink && sink->msg)
                sink->msg(sink->ctx, rx->buf, rx->need);
            break;
        }
    }
}
