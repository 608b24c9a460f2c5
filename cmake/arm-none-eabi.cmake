# CMake toolchain for the Cortex-M firmware (make firmware): arm-none-eabi-gcc with picolibc.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_C_FLAGS_INIT "--specs=picolibc.specs -mcpu=cortex-m3 -mthumb")
# (CMAKE_C_FLAGS reach the link line too, so the specs are not repeated for the linker)
