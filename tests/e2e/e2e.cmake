# End-to-end tests: every tests/e2e/test_*.py is one ctest test (e2e_<name>), run by
# /usr/bin/python3 (the interpreter that sees Debian's python3-msgpack) against the programs of
# this build, through tests/e2e/run.py: it fails the test when a node reached beyond loopback
# outside a namespace (the network guard) and counts skips (a failure under CI=true). The
# tests find the programs through SWARM_BUILD and the sources through SWARM_SRC; each test
# cleans up its own processes and temporary directories.
file(GLOB SW_E2E_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/e2e/test_*.py)
foreach(src ${SW_E2E_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_test(NAME e2e_${name} COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/e2e/run.py ${src})
  set_tests_properties(e2e_${name} PROPERTIES
    LABELS e2e
    TIMEOUT 300
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/e2e
    ENVIRONMENT "SWARM_BUILD=${CMAKE_BINARY_DIR};SWARM_SRC=${CMAKE_SOURCE_DIR}")
endforeach()
