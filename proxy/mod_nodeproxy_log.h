/* Glue: message ids and the object-first log prefix. */
#ifndef MOD_NODEPROXY_LOG_H
#define MOD_NODEPROXY_LOG_H

/* Every message at DEBUG or above carries its own id, "NP00042: ".
 * httpd's AH numbers are httpd's; tests/guard_lognos.sh keeps ours unique. */
#define NPLOGNO(n) "NP" #n ": "

#endif
