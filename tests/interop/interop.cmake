# Interop suite: mp_tool (a CLI over the MsgPack core) checked against Debian's python3-msgpack
# by mp_interop.py, in both directions. Only /usr/bin/python3 sees python3-msgpack; when it or
# the module is missing the test fails with a message naming scripts/setup (never skipped).
add_executable(mp_tool ${CMAKE_CURRENT_LIST_DIR}/mp_tool.c)
set_target_properties(mp_tool PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/t)
target_link_libraries(mp_tool PRIVATE swarm_core)

add_test(NAME mp_interop
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/run-interop $<TARGET_FILE:mp_tool>)
set_tests_properties(mp_interop PROPERTIES LABELS interop TIMEOUT 600)
