// swarm DNS messages: a bounded reader and a builder for the DNS wire format (RFC 1035) as
// Multicast DNS uses it (RFC 6762, DNS-SD RFC 6763). Pure: no I/O, no heap, caller buffers,
// sticky errors (the first error wins; later calls do nothing and return it again).
//
// Names are held uncompressed in wire form (length-prefixed labels ending with a zero byte), so
// a label may hold any byte, dots included. Reading follows compression pointers only
// backwards (each target lies before the previous one), which makes loops impossible, and
// refuses names longer than 255 bytes. Writing compresses names against those already in the
// message. Names compare case-insensitively for ASCII (RFC 6762 §16).
#ifndef SWARM_DNS_H
#define SWARM_DNS_H

#include "swarm/sw.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SW_MDNS_PORT 5353
#define SW_MDNS_ADDR "224.0.0.251"

enum {
    SW_DNS_HDR = 12,        // header bytes
    SW_DNS_NAME_MAX = 255,  // wire bytes of a name, the final zero included
    SW_DNS_LABEL_MAX = 63,  // bytes of one label
};

// Record types and classes used here (any other value passes through as a number).
enum {
    SW_DNS_T_A = 1,
    SW_DNS_T_NS = 2,
    SW_DNS_T_CNAME = 5,
    SW_DNS_T_PTR = 12,
    SW_DNS_T_TXT = 16,
    SW_DNS_T_AAAA = 28,
    SW_DNS_T_SRV = 33,
    SW_DNS_T_OPT = 41,
    SW_DNS_T_NSEC = 47,
    SW_DNS_T_ANY = 255,
};
enum {
    SW_DNS_C_IN = 1,
    SW_DNS_C_ANY = 255,
    // Top bit of the class: "unicast response wanted" (QU) in a question, "cache flush" in a
    // record (RFC 6762 §5.4, §10.2).
    SW_DNS_C_TOP = 0x8000,
};

// Header flags.
enum {
    SW_DNS_F_QR = 0x8000,     // response
    SW_DNS_F_OPCODE = 0x7800, // mask; 0 = standard query
    SW_DNS_F_AA = 0x0400,
    SW_DNS_F_TC = 0x0200,
    SW_DNS_F_RD = 0x0100,
    SW_DNS_F_RA = 0x0080,
    SW_DNS_F_RCODE = 0x000f,  // mask
};

// Sections, in message order.
enum { SW_DNS_QD = 0, SW_DNS_AN = 1, SW_DNS_NS = 2, SW_DNS_AR = 3 };

// A name in uncompressed wire form. len counts every byte incl. the final zero: the root name
// is {1, {0}}; len 0 means "no name".
typedef struct sw_dns_name {
    uint8_t len;
    uint8_t b[SW_DNS_NAME_MAX];
} sw_dns_name_t;

// Dotted text ("node-1.local", a trailing dot allowed, no escapes) → name. "" and "." give the
// root. 0, SW_EINVAL (an empty or > 63-byte label), SW_ETOOBIG (> 255 bytes).
int sw_dns_name_from(sw_dns_name_t *nm, const char *text, size_t n);
// out = one label (any bytes, 1..63 of them) in front of suffix. 0, SW_EINVAL, SW_ETOOBIG.
// out may be suffix.
int sw_dns_name_join(sw_dns_name_t *out, const void *label, size_t n, const sw_dns_name_t *suffix);
// Equal names, ASCII case ignored.
bool sw_dns_name_eq(const sw_dns_name_t *a, const sw_dns_name_t *b);
// Presentation text for logs ("a.local", '.' and '\' inside a label escaped with '\', other
// bytes outside '!'..'~' as \DDD; the root is "."). Always NUL-terminated when cap > 0;
// returns the full length (may exceed cap - 1, then the text is cut).
size_t sw_dns_name_text(const sw_dns_name_t *nm, char *buf, size_t cap);

// Equal record data of type `type` in canonical (uncompressed) form, ASCII case ignored inside
// the names of PTR, CNAME, NS, SRV and NSEC data.
bool sw_dns_rdata_eq(uint16_t type, const uint8_t *a, size_t an, const uint8_t *b, size_t bn);

//////////////////////////////////////////////////////////////////////////////////////////////
// Reader. Questions first, then the records of the answer, authority and additional sections
// in order. Record data of A, AAAA, PTR, CNAME, NS, SRV, TXT and NSEC is checked (sizes, names
// ending exactly where the data ends); other types pass as opaque bytes. Bytes after the last
// counted record are ignored. Every call is bounded by the message length.

typedef struct sw_dns_q {
    sw_dns_name_t name;
    uint16_t type;
    uint16_t cls; // without the QU bit
    bool qu;      // unicast response requested
} sw_dns_q_t;

typedef struct sw_dns_rr {
    sw_dns_name_t name;
    uint8_t section; // SW_DNS_AN, _NS or _AR
    uint16_t type;
    uint16_t cls;    // without the cache-flush bit
    bool flush;      // cache-flush bit
    uint32_t ttl;    // seconds
    size_t rdoff;    // the record data: msg[rdoff .. rdoff + rdlen)
    uint16_t rdlen;
    // Decoded for some types:
    uint8_t a[16];   // A (4 bytes), AAAA (16 bytes)
    uint16_t prio, weight, port; // SRV
    size_t target;   // PTR, CNAME, NS: the name; SRV: the target; NSEC: the next name.
                     // An offset into the message for sw_dns_rd_name().
} sw_dns_rr_t;

typedef struct sw_dns_rd {
    const uint8_t *p; // the message (not owned)
    size_t n;
    size_t at;        // read position
    int err;          // sticky
    uint16_t id, flags;
    uint16_t count[4]; // QD, AN, NS, AR as the header says
    uint8_t section;   // being read
    uint16_t left;     // entries left in it
} sw_dns_rd_t;

// Reads the header. 0 or SW_EPROTO (shorter than 12 bytes).
int sw_dns_rd_init(sw_dns_rd_t *r, const void *msg, size_t n);
// The next question: 1, 0 at the end of the question section, or the error.
int sw_dns_rd_question(sw_dns_rd_t *r, sw_dns_q_t *q);
// The next record (skipping any unread questions): 1, 0 after the last one, or the error.
int sw_dns_rd_rr(sw_dns_rd_t *r, sw_dns_rr_t *rr);
// Decodes the name at offset off of the message (e.g. rr->target). 0 or SW_EPROTO.
int sw_dns_rd_name(const sw_dns_rd_t *r, size_t off, sw_dns_name_t *out);
// A record's data in canonical form (names uncompressed) into out[0..cap): its length, or
// SW_EFULL, SW_EPROTO.
int sw_dns_rd_rdata(const sw_dns_rd_t *r, const sw_dns_rr_t *rr, uint8_t *out, size_t cap);
// Reads a whole message: 0 if every counted question and record is well formed, else the error.
int sw_dns_check(const void *msg, size_t n);

//////////////////////////////////////////////////////////////////////////////////////////////
// Writer. Appends to buf[0..cap): the header, then questions, then records section by section
// (a section may not be reopened once a later one was started: SW_EINVAL). On overflow the
// error becomes SW_EFULL and nothing more is written. The writer is a plain value: a copy of it
// is a checkpoint, and assigning the copy back drops what was written since (the usual way to
// leave out additional records that do not fit). sw_dns_wr_finish() writes the counts into the
// header; call it last.

#ifndef SW_DNS_WR_NAMES
#define SW_DNS_WR_NAMES 48 // label positions remembered as compression targets
#endif

typedef struct sw_dns_wr {
    uint8_t *buf;  // owned by the caller
    size_t cap;
    size_t len;
    int err;       // sticky: 0, SW_EFULL, SW_EINVAL, SW_ETOOBIG
    uint16_t count[4];
    uint8_t section;
    bool compress; // compress names (default true)
    size_t rr_len; // position of the open record's length field (0: none open)
    uint8_t ntargets;
    uint16_t targets[SW_DNS_WR_NAMES];
} sw_dns_wr_t;

void sw_dns_wr_init(sw_dns_wr_t *w, void *buf, size_t cap, uint16_t id, uint16_t flags);
// cls may carry SW_DNS_C_TOP (QU).
void sw_dns_wr_question(sw_dns_wr_t *w, const sw_dns_name_t *name, uint16_t type, uint16_t cls);
// A record piece by piece: begin, then data (u8/u16/u32/bytes/name), then end. cls may carry
// SW_DNS_C_TOP (cache flush).
void sw_dns_wr_rr_begin(sw_dns_wr_t *w, int section, const sw_dns_name_t *name, uint16_t type,
                        uint16_t cls, uint32_t ttl);
void sw_dns_wr_u8(sw_dns_wr_t *w, uint8_t v);
void sw_dns_wr_u16(sw_dns_wr_t *w, uint16_t v);
void sw_dns_wr_u32(sw_dns_wr_t *w, uint32_t v);
void sw_dns_wr_bytes(sw_dns_wr_t *w, const void *p, size_t n);
// A name, compressed if w->compress and `compress`.
void sw_dns_wr_name(sw_dns_wr_t *w, const sw_dns_name_t *name, bool compress);
void sw_dns_wr_rr_end(sw_dns_wr_t *w);
// Whole records.
void sw_dns_wr_a(sw_dns_wr_t *w, int section, const sw_dns_name_t *name, uint16_t cls, uint32_t ttl,
                 const uint8_t ip[4]);
void sw_dns_wr_ptr(sw_dns_wr_t *w, int section, const sw_dns_name_t *name, uint16_t cls, uint32_t ttl,
                   const sw_dns_name_t *target);
void sw_dns_wr_srv(sw_dns_wr_t *w, int section, const sw_dns_name_t *name, uint16_t cls, uint32_t ttl,
                   uint16_t prio, uint16_t weight, uint16_t port, const sw_dns_name_t *target);
// txt: the data as character-strings (see sw_dns_txt_add); n = 0 writes one empty string, as
// RFC 6763 §6.1 asks.
void sw_dns_wr_txt(sw_dns_wr_t *w, int section, const sw_dns_name_t *name, uint16_t cls, uint32_t ttl,
                   const uint8_t *txt, size_t n);
// NSEC as mDNS uses it (RFC 6762 §6.1): the next name is the record's own name, written
// uncompressed, and the bitmap lists `types` (each < 256; others are SW_EINVAL).
void sw_dns_wr_nsec(sw_dns_wr_t *w, int section, const sw_dns_name_t *name, uint16_t cls, uint32_t ttl,
                    const uint16_t *types, size_t ntypes);
// Writes the counts into the header. Returns the message length or the error (an open record
// is SW_EINVAL).
int sw_dns_wr_finish(sw_dns_wr_t *w);

// Appends the character-string "key=value" to TXT data txt[0..*len) of capacity cap.
// 0, SW_ETOOBIG (over 255 bytes), SW_EFULL.
int sw_dns_txt_add(uint8_t *txt, size_t cap, size_t *len, const char *key, const char *value);
// Iterates the character-strings of TXT data: true and *item for the next one, false at the
// end or on a string that runs past n. Start with *at = 0.
bool sw_dns_txt_next(const uint8_t *txt, size_t n, size_t *at, sw_span_t *item);

#ifdef __cplusplus
}
#endif
#endif
