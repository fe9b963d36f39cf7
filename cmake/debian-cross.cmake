# Cross-compiling on Debian for another Debian architecture, with Debian's
# cross compiler and the target's multiarch -dev packages:
#   cmake -DCMAKE_TOOLCHAIN_FILE=cmake/debian-cross.cmake -DDEBIAN_ARCH=arm64 ...
# (./scripts/dev deps arm64 installs what it needs). Tests run under
# qemu-user (qemu-user-static), which finds the target's dynamic loader and
# libraries where multiarch put them.
if(NOT DEBIAN_ARCH)
  message(FATAL_ERROR "cmake/debian-cross.cmake: set DEBIAN_ARCH (arm64, amd64, ...)")
endif()
# try_compile projects read this file again: they need the architecture too.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES DEBIAN_ARCH)

function(debian_arch_variable variable output)
  execute_process(COMMAND dpkg-architecture -a ${DEBIAN_ARCH} -q${variable}
                  OUTPUT_VARIABLE value OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET
                  RESULT_VARIABLE failed)
  if(failed OR NOT value)
    message(FATAL_ERROR "dpkg-architecture -a ${DEBIAN_ARCH} -q${variable} failed (dpkg-dev)")
  endif()
  set(${output} ${value} PARENT_SCOPE)
endfunction()
debian_arch_variable(DEB_HOST_GNU_TYPE triplet)
debian_arch_variable(DEB_HOST_GNU_CPU cpu)
debian_arch_variable(DEB_HOST_MULTIARCH multiarch)

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${cpu})
set(CMAKE_C_COMPILER ${triplet}-gcc)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-${cpu}-static)
# pkg-config reads the target's .pc files, never the build machine's.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${multiarch}/pkgconfig:/usr/share/pkgconfig)
