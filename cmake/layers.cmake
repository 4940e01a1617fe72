# The layers of svedbg, bottom up: each entry is "FOLDER: FOLDERS IT MAY USE".
# A folder's sources may include only its own headers and those of the
# folders listed after it (transitive use must be listed too), and its CMake
# library links exactly those folders' libraries. tests/layers/check-layers
# reads this same table and fails on any #include that points up or sideways;
# tools/, tests/, bench/ and fuzz/ sit above every layer.
set(SVEDBG_LAYERS
  "common:"
  "xml-targets: common"
  "gdbstub: common"
  "kvm: common"
  "kvm/inprocess: kvm common"
  "kvm/attach: kvm common"
  "kvm/scan: kvm common"
  "introspect/sim: kvm common"
  "introspect/core: kvm common"
  "introspect: introspect/core kvm xml-targets gdbstub common"
  "libsvedbg: introspect kvm/inprocess kvm gdbstub common"
)

# svedbg_<folder with / and - as _>: the library of a layer folder.
function(svedbg_layer_target folder out)
  string(REPLACE "/" "_" name "${folder}")
  string(REPLACE "-" "_" name "${name}")
  set(${out} "svedbg_${name}" PARENT_SCOPE)
endfunction()

# svedbg_layer(FOLDER [LIBS ...]): the static library of FOLDER from its own
# *.cpp files (header-only folders give an INTERFACE library), linked PUBLIC
# to the libraries of the folders the table allows it and to LIBS (external
# packages). Called from FOLDER's CMakeLists.txt.
function(svedbg_layer folder)
  cmake_parse_arguments(L "" "" "LIBS" ${ARGN})
  set(uses "")
  set(found FALSE)
  foreach(entry ${SVEDBG_LAYERS})
    string(REGEX MATCH "^([^:]+):(.*)$" _ "${entry}")
    if(CMAKE_MATCH_1 STREQUAL folder)
      set(found TRUE)
      string(STRIP "${CMAKE_MATCH_2}" deps)
      if(deps)
        string(REPLACE " " ";" uses "${deps}")
      endif()
    endif()
  endforeach()
  if(NOT found)
    message(FATAL_ERROR "svedbg_layer: ${folder} is not in SVEDBG_LAYERS (cmake/layers.cmake)")
  endif()
  svedbg_layer_target(${folder} target)
  file(GLOB sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${folder}/*.cpp)
  set(libs ${L_LIBS})
  foreach(u ${uses})
    svedbg_layer_target(${u} t)
    list(APPEND libs ${t})
  endforeach()
  if(sources)
    add_library(${target} STATIC ${sources})
    target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
    target_link_libraries(${target} PUBLIC ${libs})
  else()
    add_library(${target} INTERFACE)
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(${target} INTERFACE ${libs})
  endif()
endfunction()
