# Layers above the core.
#   swarm_node       src/node + boards/*: the portable device runtime (Lua, mbedTLS, the core)
#   swarm_port_posix src/port/posix: the libuv implementation of include/swarm/port.h
#   swarm_host       src/host: host side (links, mux, scan, push)
# The tools link ${SW_NODE_LIBS} / ${SW_HOST_LIBS}.
pkg_check_modules(LUA REQUIRED IMPORTED_TARGET lua5.4)
pkg_check_modules(UV REQUIRED IMPORTED_TARGET libuv)
pkg_check_modules(CJSON REQUIRED IMPORTED_TARGET libcjson)
pkg_check_modules(EDIT REQUIRED IMPORTED_TARGET libedit) # swarm repl's line editing (BSD)
find_library(MBEDCRYPTO_LIB mbedcrypto REQUIRED)
pkg_check_modules(CRYPTO REQUIRED IMPORTED_TARGET libcrypto) # libssl-dev: SHA-256 of file contents

# The libraries as SW_LINK (CMakeLists.txt) wants them: shared, or their static archives.
set(SW_DEP_LUA PkgConfig::LUA)
set(SW_DEP_UV PkgConfig::UV)
set(SW_DEP_MBEDCRYPTO ${MBEDCRYPTO_LIB})
set(SW_DEP_CJSON PkgConfig::CJSON)
set(SW_DEP_CRYPTO PkgConfig::CRYPTO)
find_library(SW_Z_SO NAMES z REQUIRED) # zlib1g-dev: push compression (node inflate, host deflate)
set(SW_DEP_Z ${SW_Z_SO})
if(NOT SW_LINK STREQUAL "SHARED")
  find_library(SW_LUA_A NAMES liblua5.4.a)
  find_library(SW_UV_A NAMES libuv_a.a libuv.a)
  find_library(SW_MBEDCRYPTO_A NAMES libmbedcrypto.a)
  if(SW_LUA_A AND SW_UV_A AND SW_MBEDCRYPTO_A)
    find_package(Threads REQUIRED)
    add_library(sw_dep_lua INTERFACE)
    target_include_directories(sw_dep_lua INTERFACE ${LUA_INCLUDE_DIRS})
    target_link_libraries(sw_dep_lua INTERFACE ${SW_LUA_A} m ${CMAKE_DL_LIBS})
    add_library(sw_dep_uv INTERFACE)
    target_include_directories(sw_dep_uv INTERFACE ${UV_INCLUDE_DIRS})
    target_link_libraries(sw_dep_uv INTERFACE ${SW_UV_A} Threads::Threads ${CMAKE_DL_LIBS} rt)
    set(SW_DEP_LUA sw_dep_lua)
    set(SW_DEP_UV sw_dep_uv)
    set(SW_DEP_MBEDCRYPTO ${SW_MBEDCRYPTO_A})
    find_library(SW_Z_A NAMES libz.a)
    if(SW_Z_A)
      set(SW_DEP_Z ${SW_Z_A})
    endif()
    # libcrypto.a only in a FULL (one static) swarm-node: a LIBS node may load libmosquitto.so,
    # which brings the shared libcrypto, and one process should not carry two copies. Only its
    # SHA-256 is linked: about 23 KB.
    find_library(SW_CRYPTO_A NAMES libcrypto.a)
    if(SW_CRYPTO_A AND SW_LINK STREQUAL "FULL")
      set(SW_DEP_CRYPTO ${SW_CRYPTO_A} Threads::Threads)
    endif()
  elseif(SW_LINK STREQUAL "FULL")
    message(FATAL_ERROR "SW_NODE_LINK=FULL: liblua5.4.a, libuv_a.a or libmbedcrypto.a not found")
  else()
    message(STATUS "SW_NODE_LINK=LIBS: a static archive is missing, linking shared")
  endif()
endif()

# src/sha: swarm/sha256.h on OpenSSL's libcrypto (its SHA-NI assembly) for the node and the host
# on POSIX; the firmware, and the node's mcu-profile test build, keep mbedTLS's (inline, no
# SW_SHA256_LIBCRYPTO).
# The host takes the shared libcrypto whatever SW_LINK says (its libwebsockets and libmosquitto
# load it anyway); the node ${SW_DEP_CRYPTO}.
add_library(swarm_sha256 STATIC ${CMAKE_SOURCE_DIR}/src/sha/sha256_libcrypto.c)
target_compile_definitions(swarm_sha256 PUBLIC SW_SHA256_LIBCRYPTO=1)
target_include_directories(swarm_sha256 PRIVATE ${CRYPTO_INCLUDE_DIRS})
target_link_libraries(swarm_sha256 PUBLIC swarm_core)

# src/auth: the authenticated mode's Noise handshake and framing (sans-I/O, mbedTLS primitives),
# shared by the node and the host.
file(GLOB SW_AUTH_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/auth/*.c)
add_library(swarm_auth STATIC ${SW_AUTH_SRC})
target_link_libraries(swarm_auth PUBLIC swarm_core ${SW_DEP_MBEDCRYPTO})

# src/mqtt: an MQTT client on a libuv loop (libmosquitto, no thread), for the POSIX port and the
# host's mqtt:// links. libmosquitto is shared only (CMakeLists.txt, SW_MQTT).
if(SW_MQTT)
  pkg_check_modules(MOSQUITTO REQUIRED IMPORTED_TARGET libmosquitto)
  add_library(swarm_uvmq STATIC ${CMAKE_SOURCE_DIR}/src/mqtt/uvmq.c)
  target_include_directories(swarm_uvmq PUBLIC ${CMAKE_SOURCE_DIR}/src/mqtt)
  target_link_libraries(swarm_uvmq PUBLIC swarm_core ${SW_DEP_UV} PkgConfig::MOSQUITTO)
  set(SW_UVMQ_NODE swarm_uvmq)
  if(SW_MOSQUITTO_SRC AND NOT SW_LINK STREQUAL "SHARED")
    # the node's own static libmosquitto: its lib/ without TLS, SOCKS or SRV (their code, their
    # warnings: not ours to fix)
    if(NOT EXISTS ${SW_MOSQUITTO_SRC}/lib/mosquitto.c)
      message(FATAL_ERROR "SW_MOSQUITTO_SRC=${SW_MOSQUITTO_SRC} is not mosquitto's source tree")
    endif()
    file(GLOB SW_MOSQ_SRC ${SW_MOSQUITTO_SRC}/lib/*.c)
    add_library(sw_mosquitto_static STATIC ${SW_MOSQ_SRC})
    target_include_directories(sw_mosquitto_static PUBLIC ${SW_MOSQUITTO_SRC}/include
                               PRIVATE ${SW_MOSQUITTO_SRC} ${SW_MOSQUITTO_SRC}/lib ${SW_MOSQUITTO_SRC}/deps)
    target_compile_definitions(sw_mosquitto_static PRIVATE VERSION="static")
    target_compile_options(sw_mosquitto_static PRIVATE -w -Wno-error)
    add_library(swarm_uvmq_node STATIC ${CMAKE_SOURCE_DIR}/src/mqtt/uvmq.c)
    target_include_directories(swarm_uvmq_node PUBLIC ${CMAKE_SOURCE_DIR}/src/mqtt)
    target_link_libraries(swarm_uvmq_node PUBLIC swarm_core ${SW_DEP_UV} sw_mosquitto_static)
    set(SW_UVMQ_NODE swarm_uvmq_node)
  endif()
endif()

file(GLOB SW_NODE_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/node/*.c
                                        ${CMAKE_SOURCE_DIR}/boards/*/*.c)
set(SW_NODE_LIBS "")
if(SW_NODE_SRC)
  add_library(swarm_node STATIC ${SW_NODE_SRC})
  target_include_directories(swarm_node PUBLIC ${CMAKE_SOURCE_DIR}/src/node)
  target_link_libraries(swarm_node PUBLIC swarm_auth swarm_core swarm_sha256 ${SW_DEP_CRYPTO} ${SW_DEP_LUA} ${SW_DEP_MBEDCRYPTO} telnet z m)
  list(APPEND SW_NODE_LIBS swarm_node)
endif()

file(GLOB SW_PORT_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/port/posix/*.c)
if(SW_PORT_SRC)
  add_library(swarm_port_posix STATIC ${SW_PORT_SRC})
  target_include_directories(swarm_port_posix PUBLIC ${CMAKE_SOURCE_DIR}/src/port/posix
                                              PRIVATE ${CMAKE_SOURCE_DIR}/src/node)
  # zlib: the inflate of compressed writes (zin_posix.c); libz.a in a static node
  target_link_libraries(swarm_port_posix PUBLIC swarm_core ${SW_DEP_UV} ${SW_DEP_Z})
  list(APPEND SW_NODE_LIBS swarm_port_posix)
  if(SW_MQTT)
    target_link_libraries(swarm_port_posix PUBLIC ${SW_UVMQ_NODE})
    target_compile_definitions(swarm_port_posix PRIVATE SW_PORT_MQTT=1)
  else()
    target_compile_definitions(swarm_port_posix PRIVATE SW_PORT_MQTT=0)
  endif()
endif()

file(GLOB SW_HOST_SRC CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/host/*.c)
set(SW_HOST_LIBS "")
if(SW_HOST_SRC)
  add_library(swarm_host STATIC ${SW_HOST_SRC})
  target_include_directories(swarm_host PUBLIC ${CMAKE_SOURCE_DIR}/src/host)
  # libuv shared on the host side whatever SW_LINK says: the dashboard's libwebsockets loads
  # its libuv event library (libwebsockets-evlib_uv.so, linked to libuv.so.1) at run time, and
  # one process must not run two copies of libuv on one loop (cmake/dash.cmake).
  target_link_libraries(swarm_host PUBLIC swarm_auth swarm_core swarm_sha256 PkgConfig::CRYPTO PkgConfig::UV ${SW_DEP_CJSON} ${SW_DEP_MBEDCRYPTO} ${SW_DEP_Z}
                        ${SW_DEP_LUA} PkgConfig::EDIT) # lua: syntax checks; edit: swarm repl
  list(APPEND SW_HOST_LIBS swarm_host)
  include(${CMAKE_SOURCE_DIR}/cmake/dash.cmake)
  if(SW_MQTT)
    target_link_libraries(swarm_host PUBLIC swarm_uvmq)
    target_compile_definitions(swarm_host PRIVATE SW_HOST_MQTT=1)
  else()
    target_compile_definitions(swarm_host PRIVATE SW_HOST_MQTT=0)
  endif()
endif()
