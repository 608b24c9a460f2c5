# Hostile-client tests (issue 10): every tests/hostile/test_*.py is one ctest test
# (hostile_<name>), run like the e2e suite (tests/e2e/e2e.cmake: through tests/e2e/run.py, the
# network guard and skip counter) against real node processes on ephemeral ports. Each attack
# here hung, bricked or exhausted a node before its fix.
file(GLOB SW_HOSTILE_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/hostile/test_*.py)
foreach(src ${SW_HOSTILE_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_test(NAME hostile_${name} COMMAND /usr/bin/python3 ${CMAKE_SOURCE_DIR}/tests/e2e/run.py ${src})
  set_tests_properties(hostile_${name} PROPERTIES
    LABELS "e2e;hostile"
    TIMEOUT 300
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/hostile
    ENVIRONMENT "SWARM_BUILD=${CMAKE_BINARY_DIR};SWARM_SRC=${CMAKE_SOURCE_DIR}")
endforeach()
