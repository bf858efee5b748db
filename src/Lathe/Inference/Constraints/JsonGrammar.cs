namespace Lathe.Inference.Constraints;

/// <summary>The pieces of JSON (RFC 8259) as rules of one <see cref="GrammarBuilder"/>, each made once on first use:
/// whitespace, strings, numbers, integers, booleans, null, any value, and objects and arrays of given parts.</summary>
/// <remarks>Bounds, so that a model cannot loop forever in one place while every token stays valid: a run of
/// whitespace is at most <see cref="MaxWhitespace"/> bytes; an integer part at most <see cref="MaxIntegerDigits"/>
/// digits, a fraction <see cref="MaxFractionDigits"/>, an exponent <see cref="MaxExponentDigits"/>. Strings are
/// unbounded (a string ends when the model closes it, or at max_tokens). Strings hold valid UTF-8 only (no overlong
/// forms, no surrogates) and escapes; a \u escape of a surrogate must be a high one followed by an escaped low one
/// (what json.dumps writes for characters beyond U+FFFF), since a lone surrogate is not text. Two exponent digits
/// keep every number a finite double (at most about 1e115).</remarks>
internal sealed class JsonGrammar(GrammarBuilder builder)
{
    public const int MaxWhitespace = 16, MaxIntegerDigits = 16, MaxFractionDigits = 16, MaxExponentDigits = 2;

    static readonly ByteSet Digit = ByteSet.Range('0', '9'), Hex = Digit | ByteSet.Range('a', 'f') | ByteSet.Range('A', 'F');
    static readonly ByteSet Tail = ByteSet.Range(0x80, 0xBF);   // UTF-8 continuation byte

    int _ws = -1, _string = -1, _number = -1, _integer = -1, _boolean = -1, _null = -1, _value = -1, _anyObject = -1;

    public GrammarBuilder Builder => builder;

    public static Symbol[] Lit(string text) => Symbol.Text(text);
    static Symbol S(ByteSet set) => Symbol.Set(set);
    static Symbol R(int rule) => Symbol.Ref(rule);

    /// <summary>Optional whitespace: 0 to <see cref="MaxWhitespace"/> of space, tab, newline, carriage return.</summary>
    public int Whitespace => _ws >= 0 ? _ws : _ws = builder.Repeat("ws", [S(ByteSet.Chars(" \t\n\r"))], 0, MaxWhitespace);

    public int String
    {
        get
        {
            if (_string >= 0) return _string;
            var plain = ByteSet.Range(0x20, 0x7F) - ByteSet.Chars("\"\\");
            // \u then four hex digits: not a surrogate (D800–DFFF), or a high surrogate then \u and a low one.
            int hex4 = builder.Rule("hex4-not-surrogate",
                [S(Digit | ByteSet.Range('A', 'C') | ByteSet.Range('a', 'c')), S(Hex), S(Hex), S(Hex)],
                [S(ByteSet.Chars("Dd")), S(ByteSet.Range('0', '7')), S(Hex), S(Hex)],
                [S(ByteSet.Chars("EeFf")), S(Hex), S(Hex), S(Hex)],
                [S(ByteSet.Chars("Dd")), S(ByteSet.Chars("89ABab")), S(Hex), S(Hex), .. Lit("\\u"), S(ByteSet.Chars("Dd")), S(ByteSet.Chars("CDEFcdef")), S(Hex), S(Hex)]);
            int escape = builder.Rule("escape", [S(ByteSet.Chars("\"\\/bfnrt"))], [.. Lit("u"), R(hex4)]);
            int chars = builder.Declare("string-chars");
            var c = R(chars);
            // RFC 3629's well-formed UTF-8 sequences, so a token ending inside a character is judged by its bytes.
            builder.Define(chars,
                [S(plain), c],
                [.. Lit("\\"), R(escape), c],
                [S(ByteSet.Range(0xC2, 0xDF)), S(Tail), c],
                [S(ByteSet.Of(0xE0)), S(ByteSet.Range(0xA0, 0xBF)), S(Tail), c],
                [S(ByteSet.Range(0xE1, 0xEC) | ByteSet.Range(0xEE, 0xEF)), S(Tail), S(Tail), c],
                [S(ByteSet.Of(0xED)), S(ByteSet.Range(0x80, 0x9F)), S(Tail), c],
                [S(ByteSet.Of(0xF0)), S(ByteSet.Range(0x90, 0xBF)), S(Tail), S(Tail), c],
                [S(ByteSet.Range(0xF1, 0xF3)), S(Tail), S(Tail), S(Tail), c],
                [S(ByteSet.Of(0xF4)), S(ByteSet.Range(0x80, 0x8F)), S(Tail), S(Tail), c],
                []);
            return _string = builder.Rule("string", [.. Lit("\""), c, .. Lit("\"")]);
        }
    }

    /// <summary>-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? with the digit counts bounded.</summary>
    public int Number
    {
        get
        {
            if (_number >= 0) return _number;
            int fraction = builder.Optional("fraction", [.. Lit("."), R(builder.Repeat("fraction-digits", [S(Digit)], 1, MaxFractionDigits))]);
            int exponent = builder.Optional("exponent", [S(ByteSet.Chars("eE")), R(builder.Optional("exponent-sign", [S(ByteSet.Chars("+-"))])),
                R(builder.Repeat("exponent-digits", [S(Digit)], 1, MaxExponentDigits))]);
            return _number = builder.Rule("number", [R(Integer), R(fraction), R(exponent)]);
        }
    }

    /// <summary>-? (0 | [1-9][0-9]*): no fraction, no exponent.</summary>
    public int Integer
    {
        get
        {
            if (_integer >= 0) return _integer;
            int more = builder.Repeat("integer-digits", [S(Digit)], 0, MaxIntegerDigits - 1);
            int magnitude = builder.Rule("integer-magnitude", Lit("0"), [S(ByteSet.Range('1', '9')), R(more)]);
            return _integer = builder.Rule("integer", [.. Lit("-"), R(magnitude)], [R(magnitude)]);
        }
    }

    public int Boolean => _boolean >= 0 ? _boolean : _boolean = builder.Rule("boolean", Lit("true"), Lit("false"));

    public int Null => _null >= 0 ? _null : _null = builder.Rule("null", Lit("null"));

    /// <summary>Any JSON value (the schema <c>{}</c> or <c>true</c>).</summary>
    public int AnyValue
    {
        get
        {
            if (_value >= 0) return _value;
            _value = builder.Declare("value");
            _anyObject = ObjectOf(String, _value, "object");
            builder.Define(_value, [R(_anyObject)], [R(ArrayOf(_value, 0, -1, "array"))], [R(String)], [R(Number)], [R(Boolean)], [R(Null)]);
            return _value;
        }
    }

    /// <summary>Any JSON object (json_object mode).</summary>
    public int AnyObject
    {
        get { _ = AnyValue; return _anyObject; }
    }

    /// <summary>An object of any number of members <paramref name="key"/> : <paramref name="value"/>.</summary>
    public int ObjectOf(int key, int value, string name)
    {
        Symbol[] member = [R(key), R(Whitespace), .. Lit(":"), R(Whitespace), R(value), R(Whitespace)];
        int more = builder.Star(name + "-members", [.. Lit(","), R(Whitespace), .. member]);
        return builder.Rule(name, [.. Lit("{"), R(Whitespace), .. Lit("}")], [.. Lit("{"), R(Whitespace), .. member, R(more), .. Lit("}")]);
    }

    /// <summary>An array of <paramref name="min"/> to <paramref name="max"/> (-1: any number) <paramref name="item"/>s.</summary>
    public int ArrayOf(int item, int min, int max, string name)
    {
        Symbol[] open = [.. Lit("["), R(Whitespace)], close = Lit("]");
        if (max == 0) return builder.Rule(name, [.. open, .. close]);
        int rest = builder.Repeat(name + "-items", [.. Lit(","), R(Whitespace), R(item), R(Whitespace)], Math.Max(min - 1, 0), max < 0 ? -1 : max - 1);
        Symbol[] nonEmpty = [.. open, R(item), R(Whitespace), R(rest), .. close];
        return min == 0 ? builder.Rule(name, [.. open, .. close], nonEmpty) : builder.Rule(name, nonEmpty);
    }

    /// <summary>Exactly these bytes.</summary>
    public int Literal(byte[] bytes, string name) => builder.Rule(name, Symbol.Bytes(bytes));
}
