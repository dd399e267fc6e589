# Writes mproc.pc at install time, when the prefix is known (cmake --install
# --prefix P, make install PREFIX=P), into MPROC_PC_OUT; the install rule
# after it installs that file. Set by the caller: MPROC_PC_IN, MPROC_PC_OUT,
# MPROC_PC_VERSION, MPROC_PC_LIBDIR_REL and MPROC_PC_INCLUDEDIR_REL (the
# GNUInstallDirs folders, relative to the prefix or absolute).
#
# The file is relocatable: its prefix is found from its own place
# (${pcfiledir}), so a prefix moved or copied elsewhere still works. Libs
# carries an rpath to libdir unless the prefix is /usr or /usr/local, whose
# lib folders the dynamic linker searches (after ldconfig, which make
# install runs as root), so that a program built with pkg-config against
# any other prefix runs without LD_LIBRARY_PATH.

string(REGEX REPLACE "(.)/+$" "\\1" prefix "${CMAKE_INSTALL_PREFIX}")
foreach(kind LIBDIR INCLUDEDIR)
  set(dir "${MPROC_PC_${kind}_REL}")
  if(IS_ABSOLUTE "${dir}")
    set(MPROC_PC_${kind} "${dir}")
    set(fixed ON)
  else()
    set(MPROC_PC_${kind} "\${prefix}/${dir}")
  endif()
endforeach()

if(fixed)
  # An absolute libdir or includedir cannot move with the prefix.
  set(MPROC_PC_PREFIX "${prefix}")
else()
  file(RELATIVE_PATH up "/p/${MPROC_PC_LIBDIR_REL}/pkgconfig" "/p")
  string(REGEX REPLACE "/$" "" up "${up}")
  set(MPROC_PC_PREFIX "\${pcfiledir}/${up}")
endif()

if(prefix STREQUAL "/usr" OR prefix STREQUAL "/usr/local")
  set(MPROC_PC_RPATH "")
else()
  set(MPROC_PC_RPATH " -Wl,-rpath,\${libdir}")
endif()

configure_file("${MPROC_PC_IN}" "${MPROC_PC_OUT}" @ONLY)
