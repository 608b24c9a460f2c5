# MCU tests: the Cortex-M3 firmware (build/fw, scripts/firmware) in QEMU mps2-an385, driven by
# the host tool of this build. The firmware is built by a fixture test (firmware_build) before
# any of them runs, so `make test` on a fresh machine needs nothing else. Without the cross
# toolchain or QEMU they are skipped, except under CI=true, where that fails loudly.
add_test(NAME firmware_build COMMAND ${CMAKE_SOURCE_DIR}/scripts/firmware --test)
set_tests_properties(firmware_build PROPERTIES LABELS mcu TIMEOUT 900 FIXTURES_SETUP firmware
  SKIP_RETURN_CODE 77)
file(GLOB SW_MCU_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/mcu/test_*.py)
foreach(src ${SW_MCU_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_test(NAME mcu_${name} COMMAND /usr/bin/python3 ${src})
  set_tests_properties(mcu_${name} PROPERTIES
    LABELS mcu
    TIMEOUT 300
    FIXTURES_REQUIRED firmware
    SKIP_RETURN_CODE 77
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/mcu
    ENVIRONMENT "SWARM_BUILD=${CMAKE_BINARY_DIR};SWARM_SRC=${CMAKE_SOURCE_DIR}")
endforeach()
