// What every service of the calculator family offers: a health check.
// calc.thrift includes this file and extends its service.

typedef i64 Timestamp

/** How a service is doing. */
struct Health {
  1: required bool serving
  2: string version = "1.0"
  3: optional Timestamp started_at
}

service Monitored {
  /** Answers with the service's health; never fails. */
  Health health()
}
