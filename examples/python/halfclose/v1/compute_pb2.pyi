from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

ALGORITHM_BLAKE2B: Algorithm
ALGORITHM_BLAKE3: Algorithm
ALGORITHM_CKSUM: Algorithm
ALGORITHM_CRC32C: Algorithm
ALGORITHM_MD5: Algorithm
ALGORITHM_SHA1: Algorithm
ALGORITHM_SHA224: Algorithm
ALGORITHM_SHA256: Algorithm
ALGORITHM_SHA384: Algorithm
ALGORITHM_SHA512: Algorithm
ALGORITHM_UNSPECIFIED: Algorithm
ALGORITHM_XXH3: Algorithm
DESCRIPTOR: _descriptor.FileDescriptor

class CapabilitiesRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class CapabilitiesResponse(_message.Message):
    __slots__ = ["algorithms", "commands", "limits"]
    ALGORITHMS_FIELD_NUMBER: _ClassVar[int]
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    algorithms: _containers.RepeatedScalarFieldContainer[Algorithm]
    commands: _containers.RepeatedCompositeFieldContainer[CommandInfo]
    limits: Limits
    def __init__(self, commands: _Optional[_Iterable[_Union[CommandInfo, _Mapping]]] = ..., algorithms: _Optional[_Iterable[_Union[Algorithm, str]]] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ...) -> None: ...

class CommandInfo(_message.Message):
    __slots__ = ["flags", "name", "summary"]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    flags: _containers.RepeatedCompositeFieldContainer[FlagInfo]
    name: str
    summary: str
    def __init__(self, name: _Optional[str] = ..., summary: _Optional[str] = ..., flags: _Optional[_Iterable[_Union[FlagInfo, _Mapping]]] = ...) -> None: ...

class DigestHeader(_message.Message):
    __slots__ = ["algorithms", "expected_digests", "expected_size", "require_end"]
    ALGORITHMS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_DIGESTS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SIZE_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_END_FIELD_NUMBER: _ClassVar[int]
    algorithms: _containers.RepeatedScalarFieldContainer[Algorithm]
    expected_digests: _containers.RepeatedCompositeFieldContainer[ExpectedDigest]
    expected_size: int
    require_end: bool
    def __init__(self, algorithms: _Optional[_Iterable[_Union[Algorithm, str]]] = ..., expected_size: _Optional[int] = ..., expected_digests: _Optional[_Iterable[_Union[ExpectedDigest, _Mapping]]] = ..., require_end: bool = ...) -> None: ...

class DigestRequest(_message.Message):
    __slots__ = ["data", "end", "header", "text"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    end: End
    header: DigestHeader
    text: str
    def __init__(self, header: _Optional[_Union[DigestHeader, _Mapping]] = ..., data: _Optional[bytes] = ..., text: _Optional[str] = ..., end: _Optional[_Union[End, _Mapping]] = ...) -> None: ...

class DigestResponse(_message.Message):
    __slots__ = ["digests", "size"]
    DIGESTS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    digests: _containers.RepeatedCompositeFieldContainer[DigestValue]
    size: int
    def __init__(self, size: _Optional[int] = ..., digests: _Optional[_Iterable[_Union[DigestValue, _Mapping]]] = ...) -> None: ...

class DigestValue(_message.Message):
    __slots__ = ["algorithm", "hex", "raw"]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    HEX_FIELD_NUMBER: _ClassVar[int]
    RAW_FIELD_NUMBER: _ClassVar[int]
    algorithm: Algorithm
    hex: str
    raw: bytes
    def __init__(self, algorithm: _Optional[_Union[Algorithm, str]] = ..., raw: _Optional[bytes] = ..., hex: _Optional[str] = ...) -> None: ...

class End(_message.Message):
    __slots__ = ["digests", "size"]
    DIGESTS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    digests: _containers.RepeatedCompositeFieldContainer[ExpectedDigest]
    size: int
    def __init__(self, size: _Optional[int] = ..., digests: _Optional[_Iterable[_Union[ExpectedDigest, _Mapping]]] = ...) -> None: ...

class ExpectedDigest(_message.Message):
    __slots__ = ["algorithm", "hex", "raw"]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    HEX_FIELD_NUMBER: _ClassVar[int]
    RAW_FIELD_NUMBER: _ClassVar[int]
    algorithm: Algorithm
    hex: str
    raw: bytes
    def __init__(self, algorithm: _Optional[_Union[Algorithm, str]] = ..., raw: _Optional[bytes] = ..., hex: _Optional[str] = ...) -> None: ...

class FlagInfo(_message.Message):
    __slots__ = ["name", "summary", "takes_value"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    TAKES_VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    summary: str
    takes_value: bool
    def __init__(self, name: _Optional[str] = ..., takes_value: bool = ..., summary: _Optional[str] = ...) -> None: ...

class Limits(_message.Message):
    __slots__ = ["grpc_conn_idle_ms", "header_timeout_ms", "idle_timeout_ms", "job_wait_ms", "keepalive_min_time_ms", "max_grpc_conns", "max_grpc_conns_per_peer", "max_grpc_requests", "max_grpc_requests_per_peer", "max_grpc_streams_per_conn", "max_input_bytes", "max_jobs", "max_jobs_per_peer", "max_line_bytes", "max_metadata_bytes", "max_msg_bytes", "max_requests_per_peer", "max_tcp_conns", "max_tcp_header_bytes", "peer_ipv6_prefix", "rate_burst", "rate_limit_per_second", "require_end", "spool_disk_bytes", "tcp_fin_wait_ms"]
    GRPC_CONN_IDLE_MS_FIELD_NUMBER: _ClassVar[int]
    HEADER_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_MS_FIELD_NUMBER: _ClassVar[int]
    JOB_WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    KEEPALIVE_MIN_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_GRPC_CONNS_FIELD_NUMBER: _ClassVar[int]
    MAX_GRPC_CONNS_PER_PEER_FIELD_NUMBER: _ClassVar[int]
    MAX_GRPC_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    MAX_GRPC_REQUESTS_PER_PEER_FIELD_NUMBER: _ClassVar[int]
    MAX_GRPC_STREAMS_PER_CONN_FIELD_NUMBER: _ClassVar[int]
    MAX_INPUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_JOBS_FIELD_NUMBER: _ClassVar[int]
    MAX_JOBS_PER_PEER_FIELD_NUMBER: _ClassVar[int]
    MAX_LINE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_METADATA_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_MSG_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_REQUESTS_PER_PEER_FIELD_NUMBER: _ClassVar[int]
    MAX_TCP_CONNS_FIELD_NUMBER: _ClassVar[int]
    MAX_TCP_HEADER_BYTES_FIELD_NUMBER: _ClassVar[int]
    PEER_IPV6_PREFIX_FIELD_NUMBER: _ClassVar[int]
    RATE_BURST_FIELD_NUMBER: _ClassVar[int]
    RATE_LIMIT_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_END_FIELD_NUMBER: _ClassVar[int]
    SPOOL_DISK_BYTES_FIELD_NUMBER: _ClassVar[int]
    TCP_FIN_WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    grpc_conn_idle_ms: int
    header_timeout_ms: int
    idle_timeout_ms: int
    job_wait_ms: int
    keepalive_min_time_ms: int
    max_grpc_conns: int
    max_grpc_conns_per_peer: int
    max_grpc_requests: int
    max_grpc_requests_per_peer: int
    max_grpc_streams_per_conn: int
    max_input_bytes: int
    max_jobs: int
    max_jobs_per_peer: int
    max_line_bytes: int
    max_metadata_bytes: int
    max_msg_bytes: int
    max_requests_per_peer: int
    max_tcp_conns: int
    max_tcp_header_bytes: int
    peer_ipv6_prefix: int
    rate_burst: int
    rate_limit_per_second: float
    require_end: bool
    spool_disk_bytes: int
    tcp_fin_wait_ms: int
    def __init__(self, max_input_bytes: _Optional[int] = ..., max_jobs: _Optional[int] = ..., max_msg_bytes: _Optional[int] = ..., idle_timeout_ms: _Optional[int] = ..., max_jobs_per_peer: _Optional[int] = ..., max_requests_per_peer: _Optional[int] = ..., peer_ipv6_prefix: _Optional[int] = ..., max_metadata_bytes: _Optional[int] = ..., max_grpc_requests: _Optional[int] = ..., max_grpc_requests_per_peer: _Optional[int] = ..., header_timeout_ms: _Optional[int] = ..., job_wait_ms: _Optional[int] = ..., max_line_bytes: _Optional[int] = ..., max_tcp_header_bytes: _Optional[int] = ..., max_tcp_conns: _Optional[int] = ..., rate_limit_per_second: _Optional[float] = ..., rate_burst: _Optional[int] = ..., max_grpc_streams_per_conn: _Optional[int] = ..., max_grpc_conns: _Optional[int] = ..., max_grpc_conns_per_peer: _Optional[int] = ..., grpc_conn_idle_ms: _Optional[int] = ..., keepalive_min_time_ms: _Optional[int] = ..., tcp_fin_wait_ms: _Optional[int] = ..., spool_disk_bytes: _Optional[int] = ..., require_end: bool = ...) -> None: ...

class RunHeader(_message.Message):
    __slots__ = ["expected_size", "input_file_mtime", "input_file_size", "pipeline", "require_end"]
    EXPECTED_SIZE_FIELD_NUMBER: _ClassVar[int]
    INPUT_FILE_MTIME_FIELD_NUMBER: _ClassVar[int]
    INPUT_FILE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_END_FIELD_NUMBER: _ClassVar[int]
    expected_size: int
    input_file_mtime: int
    input_file_size: int
    pipeline: str
    require_end: bool
    def __init__(self, pipeline: _Optional[str] = ..., expected_size: _Optional[int] = ..., require_end: bool = ..., input_file_size: _Optional[int] = ..., input_file_mtime: _Optional[int] = ...) -> None: ...

class RunRequest(_message.Message):
    __slots__ = ["data", "end", "header", "text"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    end: End
    header: RunHeader
    text: str
    def __init__(self, header: _Optional[_Union[RunHeader, _Mapping]] = ..., data: _Optional[bytes] = ..., text: _Optional[str] = ..., end: _Optional[_Union[End, _Mapping]] = ...) -> None: ...

class RunResponse(_message.Message):
    __slots__ = ["output", "summary"]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    output: bytes
    summary: RunSummary
    def __init__(self, output: _Optional[bytes] = ..., summary: _Optional[_Union[RunSummary, _Mapping]] = ...) -> None: ...

class RunSummary(_message.Message):
    __slots__ = ["diagnostics", "exit_status", "input_bytes", "output_bytes"]
    DIAGNOSTICS_FIELD_NUMBER: _ClassVar[int]
    EXIT_STATUS_FIELD_NUMBER: _ClassVar[int]
    INPUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_BYTES_FIELD_NUMBER: _ClassVar[int]
    diagnostics: _containers.RepeatedScalarFieldContainer[str]
    exit_status: int
    input_bytes: int
    output_bytes: int
    def __init__(self, input_bytes: _Optional[int] = ..., output_bytes: _Optional[int] = ..., exit_status: _Optional[int] = ..., diagnostics: _Optional[_Iterable[str]] = ...) -> None: ...

class Algorithm(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
