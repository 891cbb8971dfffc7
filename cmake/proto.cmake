# Generates C++ (messages and gRPC service) from proto/*.proto into the build tree as the
# static library edgeinfer_proto. Include "inference.pb.h" / "inference.grpc.pb.h".
find_package(gRPC CONFIG REQUIRED)
find_program(EDGEINFER_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

set(EDGEINFER_PROTO_OUT ${CMAKE_BINARY_DIR}/gen)
file(MAKE_DIRECTORY ${EDGEINFER_PROTO_OUT})
file(GLOB EDGEINFER_PROTOS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/proto/*.proto)
set(EDGEINFER_PROTO_SOURCES)
foreach(proto ${EDGEINFER_PROTOS})
  get_filename_component(stem ${proto} NAME_WE)
  set(outputs ${EDGEINFER_PROTO_OUT}/${stem}.pb.cc ${EDGEINFER_PROTO_OUT}/${stem}.pb.h
              ${EDGEINFER_PROTO_OUT}/${stem}.grpc.pb.cc ${EDGEINFER_PROTO_OUT}/${stem}.grpc.pb.h)
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND protobuf::protoc
      --proto_path=${CMAKE_SOURCE_DIR}/proto
      --cpp_out=${EDGEINFER_PROTO_OUT}
      --grpc_out=${EDGEINFER_PROTO_OUT}
      --plugin=protoc-gen-grpc=${EDGEINFER_GRPC_CPP_PLUGIN}
      ${proto}
    DEPENDS ${proto}
    COMMENT "Generating C++ from ${stem}.proto")
  list(APPEND EDGEINFER_PROTO_SOURCES ${EDGEINFER_PROTO_OUT}/${stem}.pb.cc
       ${EDGEINFER_PROTO_OUT}/${stem}.grpc.pb.cc)
endforeach()
add_library(edgeinfer_proto STATIC ${EDGEINFER_PROTO_SOURCES})
target_include_directories(edgeinfer_proto PUBLIC ${EDGEINFER_PROTO_OUT})
target_link_libraries(edgeinfer_proto PUBLIC gRPC::grpc++ protobuf::libprotobuf)
# Generated code is not ours to warn about.
target_compile_options(edgeinfer_proto PRIVATE -w)
