// The LAN parts (SW_WITH_NET: beacon.c, mdns.c; SW_WITH_FTP: ftp*.c; SW_WITH_EVAL: eval.c; SW_WITH_TELNET: telnet.c). Each opens its service when its config switch is on.
#ifndef SW_NET_PART_H
#define SW_NET_PART_H

#include "node_int.h"

extern const sw_part_t sw_part_beacon; // beacon + scan answers (boot.BEACON_*)
extern const sw_part_t sw_part_mdns;   // mDNS responder (boot.MDNS_*)
extern const sw_part_t sw_part_ftp;    // FTP server (boot.FTPD_*, ftp.*)
extern const sw_part_t sw_part_eval;   // remote eval (boot.REMOTE_EVAL_*, eval.*)
extern const sw_part_t sw_part_telnet; // telnet console (boot.TELNET_*, telnet.*)
extern const sw_part_t sw_part_mqtt;   // the MQTT fleet bus (mqtt.*)

int sw_beacon_start(sw_node_t *n);
int sw_mdns_start(sw_node_t *n);
int sw_ftp_start(sw_node_t *n);
int sw_eval_start(sw_node_t *n);
int sw_telnet_start(sw_node_t *n);

#endif
