struct TEST { 1: required string ID } (pilota.name = "Renamed")
struct Test {
    1: required string ID,
    2: required string Id (pilota.name = "hello"),
}
enum Index { A (pilota.name = "AA"), B }
const string id = "id" (pilota.name = "LANG_ID")
const string ip = "ip"
const string IP = "IP"
