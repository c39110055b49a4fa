/** Ids and statuses: this documents the include, not the module. */
include "shared/common.thrift"
include "shared/errors.thrift"

namespace py app.api

struct Request {
    1: common.Id id,
    2: common.Status status = common.Status.ACTIVE,
    3: list<common.Tag> tags,
}

service Api extends common.Base {
    Request get(1: common.Id id) throws (1: errors.NotFound missing),
}

const common.Id FIRST = common.ZERO
