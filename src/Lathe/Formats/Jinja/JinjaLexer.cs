using System.Globalization;
using System.Text;

namespace Lathe.Formats.Jinja;

internal enum TokenKind { Data, VariableBegin, VariableEnd, BlockBegin, BlockEnd, Name, String, Integer, Float, Operator, End }

internal readonly record struct Token(TokenKind Kind, string Text, int Line, object? Value = null)
{
    public bool Is(TokenKind kind, string text) => Kind == kind && Text == text;
    public override string ToString() => Kind switch
    {
        TokenKind.End => "end of template",
        TokenKind.BlockEnd => "'%}'",
        TokenKind.VariableEnd => "'}}'",
        _ => $"'{Text}'",
    };
}

/// <summary>Splits a template into text and tag tokens the way jinja2's lexer does with Hugging Face's settings
/// (trim_blocks, lstrip_blocks, keep_trailing_newline off): "\r\n" and "\r" become "\n", one trailing newline of the
/// source is dropped, "-" on a tag strips all whitespace on that side, "+" keeps it, lstrip_blocks removes the
/// spaces and tabs before a block or comment tag when only they stand between the line's start and the tag, and
/// trim_blocks removes the one newline right after a block or comment tag.</summary>
internal sealed class JinjaLexer
{
    readonly string _s;
    int _pos, _line = 1;
    readonly List<Token> _tokens = [];

    JinjaLexer(string source)
    {
        var s = source.Replace("\r\n", "\n").Replace('\r', '\n');
        if (s.EndsWith('\n')) s = s[..^1];
        _s = s;
    }

    public static List<Token> Tokenize(string source)
    {
        var lexer = new JinjaLexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    void Run()
    {
        bool lineStarting = true;
        while (_pos < _s.Length)
        {
            int open = FindTagStart(_pos);
            if (open < 0) { EmitData(_s[_pos..]); break; }
            string text = _s[_pos..open];
            char kind = _s[open + 1];
            int after = open + 2;
            char sign = after < _s.Length && (_s[after] == '-' || _s[after] == '+') ? _s[after] : '\0';
            if (sign != '\0') after++;
            if (sign == '-') text = text.TrimEnd();
            else if (sign != '+' && kind != '{')
            {
                // lstrip_blocks: only whitespace between the line's start and the tag.
                int lineStart = text.LastIndexOf('\n') + 1;
                if ((lineStart > 0 || lineStarting) && lineStart < text.Length && IsAllWhitespace(text, lineStart))
                    text = text[..lineStart];
            }
            EmitData(text);
            Advance(open);
            _pos = after;
            switch (kind)
            {
                case '#': LexComment(); break;
                case '{': _tokens.Add(new(TokenKind.VariableBegin, "{{", _line)); LexTag(block: false); break;
                default:
                    if (IsRawBegin(after, out int rawBodyStart)) { LexRaw(rawBodyStart); break; }
                    _tokens.Add(new(TokenKind.BlockBegin, "{%", _line));
                    LexTag(block: true);
                    break;
            }
            lineStarting = _pos > 0 && _s[_pos - 1] == '\n';
        }
        _tokens.Add(new(TokenKind.End, "", _line));
    }

    int FindTagStart(int from)
    {
        for (int i = _s.IndexOf('{', from); i >= 0 && i + 1 < _s.Length; i = _s.IndexOf('{', i + 1))
            if (_s[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    static bool IsAllWhitespace(string s, int from)
    {
        for (int i = from; i < s.Length; i++) if (!char.IsWhiteSpace(s[i])) return false;
        return true;
    }

    void EmitData(string text)
    {
        if (text.Length > 0) _tokens.Add(new(TokenKind.Data, text, _line));
    }

    // Moves _pos to `to`, counting the newlines passed.
    void Advance(int to)
    {
        for (int i = _pos; i < to; i++) if (_s[i] == '\n') _line++;
        _pos = to;
    }

    // After a closing "%}" or "#}": "-" strips all following whitespace, "+" keeps it, otherwise trim_blocks takes
    // one newline.
    void AfterBlockEnd(char sign)
    {
        if (sign == '-') { int p = _pos; while (p < _s.Length && char.IsWhiteSpace(_s[p])) p++; Advance(p); }
        else if (sign != '+' && _pos < _s.Length && _s[_pos] == '\n') Advance(_pos + 1);
    }

    void LexComment()
    {
        int close = _s.IndexOf("#}", _pos, StringComparison.Ordinal);
        if (close < 0) throw JinjaException.At(_line, "comment '{#' is never closed with '#}'");
        char sign = close > _pos && _s[close - 1] is '-' or '+' ? _s[close - 1] : '\0';
        Advance(close + 2);
        AfterBlockEnd(sign);
    }

    bool IsRawBegin(int p, out int bodyStart)
    {
        bodyStart = 0;
        while (p < _s.Length && char.IsWhiteSpace(_s[p])) p++;
        if (string.CompareOrdinal(_s, p, "raw", 0, 3) != 0) return false;
        p += 3;
        while (p < _s.Length && char.IsWhiteSpace(_s[p])) p++;
        char sign = p < _s.Length && _s[p] is '-' or '+' ? _s[p] : '\0';
        if (sign != '\0') p++;
        if (string.CompareOrdinal(_s, p, "%}", 0, 2) != 0) return false;
        bodyStart = p + 2;
        if (sign == '-') while (bodyStart < _s.Length && char.IsWhiteSpace(_s[bodyStart])) bodyStart++;
        else if (sign != '+' && bodyStart < _s.Length && _s[bodyStart] == '\n') bodyStart++;
        return true;
    }

    // {% raw %}…{% endraw %}: the body is text, untouched except for the whitespace control of the two tags.
    void LexRaw(int bodyStart)
    {
        int line = _line;
        for (int i = _s.IndexOf("{%", bodyStart, StringComparison.Ordinal); i >= 0; i = _s.IndexOf("{%", i + 2, StringComparison.Ordinal))
        {
            int p = i + 2;
            char open = p < _s.Length && _s[p] is '-' or '+' ? _s[p] : '\0';
            if (open != '\0') p++;
            while (p < _s.Length && char.IsWhiteSpace(_s[p])) p++;
            if (string.CompareOrdinal(_s, p, "endraw", 0, 6) != 0) continue;
            p += 6;
            while (p < _s.Length && char.IsWhiteSpace(_s[p])) p++;
            char close = p < _s.Length && _s[p] is '-' or '+' ? _s[p] : '\0';
            if (close != '\0') p++;
            if (string.CompareOrdinal(_s, p, "%}", 0, 2) != 0) continue;
            string body = _s[bodyStart..i];
            if (open == '-') body = body.TrimEnd();
            else if (open != '+')
            {
                int lineStart = body.LastIndexOf('\n') + 1;
                if (lineStart > 0 && lineStart < body.Length && IsAllWhitespace(body, lineStart)) body = body[..lineStart];
            }
            EmitData(body);
            Advance(p + 2);
            AfterBlockEnd(close);
            return;
        }
        throw JinjaException.At(line, "'{% raw %}' is never closed with '{% endraw %}'");
    }

    static readonly string[] Operators =
        ["**", "//", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"];

    void LexTag(bool block)
    {
        int startLine = _line;
        int depth = 0;   // open brackets: an end marker inside them is an operator, as in jinja2
        while (true)
        {
            while (_pos < _s.Length && char.IsWhiteSpace(_s[_pos])) Advance(_pos + 1);
            if (_pos >= _s.Length)
                throw JinjaException.At(startLine, block ? "tag '{%' is never closed with '%}'" : "'{{' is never closed with '}}'");
            if (depth == 0 && TryTagEnd(block)) return;
            char c = _s[_pos];
            if (char.IsDigit(c)) { LexNumber(); continue; }
            if (char.IsLetter(c) || c == '_')
            {
                int p = _pos;
                while (p < _s.Length && (char.IsLetterOrDigit(_s[p]) || _s[p] == '_')) p++;
                _tokens.Add(new(TokenKind.Name, _s[_pos..p], _line));
                _pos = p;
                continue;
            }
            if (c is '\'' or '"') { LexString(c); continue; }
            string? op = null;
            foreach (var o in Operators) if (string.CompareOrdinal(_s, _pos, o, 0, o.Length) == 0) { op = o; break; }
            if (op is null) throw JinjaException.At(_line, $"unexpected character '{c}' in a tag");
            if (op is "(" or "[" or "{") depth++;
            else if (op is ")" or "]" or "}") depth--;
            _tokens.Add(new(TokenKind.Operator, op, _line));
            _pos += op.Length;
        }
    }

    bool TryTagEnd(bool block)
    {
        string end = block ? "%}" : "}}";
        char sign = _s[_pos] is '-' or '+' ? _s[_pos] : '\0';
        if (sign == '+' && !block) sign = '\0';
        int p = _pos + (sign != '\0' ? 1 : 0);
        if (string.CompareOrdinal(_s, p, end, 0, 2) != 0) return false;
        _tokens.Add(new(block ? TokenKind.BlockEnd : TokenKind.VariableEnd, end, _line));
        Advance(p + 2);
        if (block) AfterBlockEnd(sign);
        else if (sign == '-') { int q = _pos; while (q < _s.Length && char.IsWhiteSpace(_s[q])) q++; Advance(q); }
        return true;
    }

    void LexNumber()
    {
        int p = _pos;
        while (p < _s.Length && (char.IsDigit(_s[p]) || _s[p] == '_')) p++;
        bool isFloat = false;
        if (p + 1 < _s.Length && _s[p] == '.' && char.IsDigit(_s[p + 1]))
        {
            isFloat = true;
            p++;
            while (p < _s.Length && (char.IsDigit(_s[p]) || _s[p] == '_')) p++;
        }
        if (p < _s.Length && (_s[p] == 'e' || _s[p] == 'E'))
        {
            int q = p + 1;
            if (q < _s.Length && _s[q] is '+' or '-') q++;
            if (q < _s.Length && char.IsDigit(_s[q]))
            {
                isFloat = true;
                p = q;
                while (p < _s.Length && (char.IsDigit(_s[p]) || _s[p] == '_')) p++;
            }
        }
        string text = _s[_pos..p].Replace("_", "");
        object value = isFloat ? (object)double.Parse(text, CultureInfo.InvariantCulture)
            : long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long l) ? (object)l
            : throw JinjaException.At(_line, $"integer literal {text} is too large");
        _tokens.Add(new(isFloat ? TokenKind.Float : TokenKind.Integer, text, _line, value));
        _pos = p;
    }

    // A quoted string with Python's escapes (jinja2 decodes literals with Python's unicode-escape codec).
    void LexString(char quote)
    {
        int line = _line;
        var sb = new StringBuilder();
        int p = _pos + 1;
        while (true)
        {
            if (p >= _s.Length) throw JinjaException.At(line, "string literal is never closed");
            char c = _s[p];
            if (c == quote) { p++; break; }
            if (c != '\\' || p + 1 >= _s.Length) { sb.Append(c); p++; continue; }
            char e = _s[p + 1];
            p += 2;
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'v': sb.Append('\v'); break;
                case '0': sb.Append('\0'); break;
                case '\n': break;
                case 'x': sb.Append((char)HexEscape(ref p, 2, line)); break;
                case 'u': sb.Append((char)HexEscape(ref p, 4, line)); break;
                case 'U': sb.Append(char.ConvertFromUtf32(HexEscape(ref p, 8, line))); break;
                default: sb.Append('\\').Append(e); break;   // unknown escapes stay as written, as in Python
            }
        }
        Advance(p);
        _tokens.Add(new(TokenKind.String, sb.ToString(), line, sb.ToString()));
    }

    int HexEscape(ref int p, int digits, int line)
    {
        if (p + digits > _s.Length || !int.TryParse(_s.AsSpan(p, digits), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out int v))
            throw JinjaException.At(line, "bad \\x, \\u or \\U escape in a string literal");
        p += digits;
        return v;
    }
}
