# Cross-building grin for 64-bit ARM (Raspberry Pi 4/5, Jetson, Rockchip, i.MX boards) on a Debian
# x86 machine: Debian's cross compiler (gcc-aarch64-linux-gnu) and arm64 -dev packages through
# multiarch (dpkg --add-architecture arm64); tests run under qemu-aarch64-static.
#
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#
# (scripts/arm64.sh installs what this needs, builds and runs the emulated tests.)
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# headers are shared between architectures in /usr/include; libraries come from the arm64 tree
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu /usr)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
# ctest runs the test programs through the emulator with the arm64 loader and libraries that
# multiarch installed (/lib/aarch64-linux-gnu). Not the cross compiler's own copy in
# /usr/aarch64-linux-gnu: its loader with multiarch's newer libc hangs in pthread_create.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static -L /)
