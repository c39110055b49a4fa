/**
 * What Pilota reads but Apache's 0.17 compiler does not: senum and slist
 * (both dropped), and struct constants named inside container constants.
 */
namespace py legacy_only

senum Colour { "red", "green"; "blue" }

struct Palette {
    1: slist name,
    2: list<Colour> colours,
}

struct Swatch {
    1: string name,
    2: i32 rgb,
}

const Swatch BLACK = {"name": "black", "rgb": 0}
const list<Swatch> BASICS = [BLACK, {"name": "white", "rgb": 0xffffff}]
const map<string, Swatch> BY_NAME = {"black": BLACK}
