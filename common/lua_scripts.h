/*
 * lua_scripts.h — the Redis scripts in common/scripts/, embedded in the
 * binaries at build time (common/scripts/embed.cmake). Each script's header
 * comment gives its keys, arguments and reply.
 */
#ifndef CHORUS_LUA_SCRIPTS_H
#define CHORUS_LUA_SCRIPTS_H

extern const char ch_lua_publish[];         /* sequence one durable event */
extern const char ch_lua_join[];            /* join: position, catch-up, presence, access */
extern const char ch_lua_presence[];        /* refresh or remove presence entries */
extern const char ch_lua_new_epoch[];       /* move a room whose sequence went back */
extern const char ch_lua_prune_consumers[]; /* drop idle consumers of the persist group */

#endif
