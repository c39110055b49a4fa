/**
 * The module's doc: it has "quotes", a backslash \ and a """ triple quote.
 */
namespace py comments

/** Ends with a quote" */
struct Documented {
    /** A field with """ inside and a trailing backslash \ */
    1: string text,
    /**
     * Multi-line
     *   with indentation kept.
     *
     * A second paragraph, after a blank line that stays empty.
     */
    2: i32 count,
}

/** An enum. */
enum Mood {
    /** Happy. */
    HAPPY = 1,
    SAD = 2,
}

/** A constant's doc.
 * It has two lines. */
const string TRICKY = "quote \" apostrophe ' backslash \\ newline \n tab \t"
const string CODE = "\"\"\"; import os; os.system('x') #"

/** A service. */
service Docs {
    /** Does a thing. */
    void thing(),
}
