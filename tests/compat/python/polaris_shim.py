"""Work around a packaging bug of PyPI polarismesh-specification 1.7.0, then expose its stubs.

The wheel's `service_manage/response_pb2.py` does `import block_allow_list_pb2` (a top-level
module) because `response.proto` imports `block_allow_list.proto`, but the wheel ships no such
module. We build that file's descriptor ourselves, from the official spec
(polarismesh/specification: api/v1/security/block_allow_list.proto, package `v1`, tag v1.7.0),
add it to the default descriptor pool and register the module in `sys.modules` under the name the
import uses. Nothing installed is modified. Import this module before any `*_pb2` of the package.
"""

import sys
import types

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.internal import builder

# model.proto (API, MatchString) must be in the pool before our file, which depends on it.
from polarismesh_specification.api.v1.model import model_pb2  # noqa: F401

MODULE_NAME = "block_allow_list_pb2"
FILE_NAME = "block_allow_list.proto"

_F = descriptor_pb2.FieldDescriptorProto


def _field(msg, name, number, ftype, json_name, type_name=None, repeated=False):
    field = msg.field.add()
    field.name = name
    field.number = number
    field.type = ftype
    field.json_name = json_name
    field.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
    if type_name:
        field.type_name = type_name
    return field


def _file_proto():
    fd = descriptor_pb2.FileDescriptorProto()
    fd.name = FILE_NAME
    fd.package = "v1"
    fd.syntax = "proto3"
    fd.dependency.append("model.proto")
    fd.options.go_package = "github.com/polarismesh/specification/source/go/api/v1/security"
    fd.options.java_package = "com.tencent.polaris.specification.api.v1.security"
    fd.options.java_outer_classname = "BlockAllowListProto"

    rule = fd.message_type.add()
    rule.name = "BlockAllowListRule"
    entry = rule.nested_type.add()
    entry.name = "MetadataEntry"
    entry.options.map_entry = True
    _field(entry, "key", 1, _F.TYPE_STRING, "key")
    _field(entry, "value", 2, _F.TYPE_STRING, "value")
    _field(rule, "id", 1, _F.TYPE_STRING, "id")
    _field(rule, "name", 2, _F.TYPE_STRING, "name")
    _field(rule, "metadata", 3, _F.TYPE_MESSAGE, "metadata",
           ".v1.BlockAllowListRule.MetadataEntry", repeated=True)
    _field(rule, "namespace", 4, _F.TYPE_STRING, "namespace")
    _field(rule, "service", 5, _F.TYPE_STRING, "service")
    _field(rule, "description", 6, _F.TYPE_STRING, "description")
    _field(rule, "priority", 7, _F.TYPE_UINT32, "priority")
    _field(rule, "enable", 8, _F.TYPE_BOOL, "enable")
    _field(rule, "ctime", 9, _F.TYPE_STRING, "ctime")
    _field(rule, "mtime", 10, _F.TYPE_STRING, "mtime")
    _field(rule, "etime", 11, _F.TYPE_STRING, "etime")
    _field(rule, "blockAllowConfig", 12, _F.TYPE_MESSAGE, "block_allow_config",
           ".v1.BlockAllowConfig", repeated=True)
    _field(rule, "revision", 13, _F.TYPE_STRING, "revision")

    config = fd.message_type.add()
    config.name = "BlockAllowConfig"
    arg = config.nested_type.add()
    arg.name = "MatchArgument"
    arg_type = arg.enum_type.add()
    arg_type.name = "Type"
    for number, name in enumerate(["CUSTOM", "HEADER", "QUERY", "CALLER_SERVICE", "CALLER_IP",
                                   "CALLER_METADATA", "CALLEE_METADATA"]):
        value = arg_type.value.add()
        value.name = name
        value.number = number
    _field(arg, "type", 1, _F.TYPE_ENUM, "type", ".v1.BlockAllowConfig.MatchArgument.Type")
    _field(arg, "key", 2, _F.TYPE_STRING, "key")
    _field(arg, "value", 3, _F.TYPE_MESSAGE, "value", ".v1.MatchString")
    policy = config.enum_type.add()
    policy.name = "BlockAllowPolicy"
    for number, name in enumerate(["ALLOW_LIST", "BLOCK_LIST"]):
        value = policy.value.add()
        value.name = name
        value.number = number
    _field(config, "api", 1, _F.TYPE_MESSAGE, "api", ".v1.API")
    _field(config, "arguments", 2, _F.TYPE_MESSAGE, "arguments",
           ".v1.BlockAllowConfig.MatchArgument", repeated=True)
    _field(config, "blockAllowPolicy", 3, _F.TYPE_ENUM, "block_allow_policy",
           ".v1.BlockAllowConfig.BlockAllowPolicy")
    return fd


def install():
    """Registers the missing `block_allow_list_pb2` module (idempotent)."""
    if MODULE_NAME in sys.modules:
        return sys.modules[MODULE_NAME]
    pool = descriptor_pool.Default()
    try:
        descriptor = pool.FindFileByName(FILE_NAME)
    except KeyError:
        descriptor = pool.AddSerializedFile(_file_proto().SerializeToString())
    module = types.ModuleType(MODULE_NAME)
    module.__doc__ = "block_allow_list.proto, built by polaris_shim (missing from the wheel)"
    scope = module.__dict__
    scope["DESCRIPTOR"] = descriptor
    builder.BuildMessageAndEnumDescriptors(descriptor, scope)
    builder.BuildTopDescriptorsAndMessages(descriptor, MODULE_NAME, scope)
    sys.modules[MODULE_NAME] = module
    return module


install()

# The stubs the tests use; importing them here proves the shim works.
from polarismesh_specification.api.v1.service_manage import (  # noqa: E402
    client_pb2,
    contract_pb2,
    grpcapi_pb2,
    grpcapi_pb2_grpc,
    request_pb2,
    response_pb2,
    service_pb2,
)
from polarismesh_specification.api.v1.model import code_pb2  # noqa: E402

__all__ = [
    "client_pb2",
    "code_pb2",
    "contract_pb2",
    "grpcapi_pb2",
    "grpcapi_pb2_grpc",
    "request_pb2",
    "response_pb2",
    "service_pb2",
]
