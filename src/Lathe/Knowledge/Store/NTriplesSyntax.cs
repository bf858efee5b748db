using System.Globalization;
using System.Text;

namespace Lathe.Knowledge.Store;

/// <summary>One N-Triples term: an IRI, a blank node, or a literal with an optional datatype IRI or language tag.</summary>
internal readonly record struct NtTerm(NtTermKind Kind, string Value, string? Datatype = null, string? Language = null);

internal enum NtTermKind { Iri, Blank, Literal }

/// <summary>The W3C N-Triples grammar (https://www.w3.org/TR/n-triples/, section 2 and the grammar in section 7): one
/// line → subject, predicate, object, with IRIREF/STRING_LITERAL_QUOTE escapes (ECHAR, UCHAR) undone; and the escapes
/// the writer needs to produce terms a conforming reader takes back.</summary>
internal static class NTriplesSyntax
{
    public const string RdfType = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
    public const string RdfLangString = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString";
    public const string RdfsLabel = "http://www.w3.org/2000/01/rdf-schema#label";
    public const string SkosAltLabel = "http://www.w3.org/2004/02/skos/core#altLabel";
    public const string Xsd = "http://www.w3.org/2001/XMLSchema#";

    /// <summary>Parses one line; false for a blank or comment-only line. Throws <see cref="FormatException"/> with
    /// what is wrong (the caller adds file and line).</summary>
    public static bool TryParseLine(string line, out NtTerm subject, out NtTerm predicate, out NtTerm obj)
    {
        int i = 0;
        subject = predicate = obj = default;
        SkipSpace(line, ref i);
        if (i == line.Length || line[i] == '#') return false;
        subject = ReadTerm(line, ref i, "subject");
        if (subject.Kind == NtTermKind.Literal) throw new FormatException("a subject cannot be a literal");
        SkipSpace(line, ref i);
        predicate = ReadTerm(line, ref i, "predicate");
        if (predicate.Kind != NtTermKind.Iri) throw new FormatException("a predicate must be an IRI <…>");
        SkipSpace(line, ref i);
        obj = ReadTerm(line, ref i, "object");
        SkipSpace(line, ref i);
        if (i == line.Length || line[i] != '.') throw new FormatException("expected '.' after the object");
        i++;
        SkipSpace(line, ref i);
        if (i < line.Length && line[i] != '#') throw new FormatException($"unexpected text after '.': \"{line[i..]}\"");
        return true;
    }

    static void SkipSpace(string line, ref int i)
    {
        while (i < line.Length && (line[i] == ' ' || line[i] == '\t')) i++;
    }

    static NtTerm ReadTerm(string line, ref int i, string what)
    {
        if (i == line.Length) throw new FormatException($"missing {what}");
        return line[i] switch
        {
            '<' => new NtTerm(NtTermKind.Iri, ReadIri(line, ref i)),
            '_' => new NtTerm(NtTermKind.Blank, ReadBlank(line, ref i)),
            '"' when what == "object" => ReadLiteral(line, ref i),
            _ => throw new FormatException($"expected the {what} at \"{Excerpt(line, i)}\""),
        };
    }

    static string ReadIri(string line, ref int i)
    {
        var iri = new StringBuilder();
        for (i++; ; i++)
        {
            if (i == line.Length) throw new FormatException("an IRI is not closed with '>'");
            char c = line[i];
            if (c == '>') { i++; break; }
            if (c == '\\')
            {
                if (i + 1 < line.Length && line[i + 1] is 'u' or 'U') { AppendUchar(line, ref i, iri); continue; }
                throw new FormatException("an IRI allows only \\u and \\U escapes");
            }
            if (c <= ' ' || c is '<' or '"' or '{' or '}' or '|' or '^' or '`') throw new FormatException($"character '{Show(c)}' is not allowed in an IRI");
            iri.Append(c);
        }
        if (iri.Length == 0) throw new FormatException("an IRI is empty");
        return iri.ToString();
    }

    static string ReadBlank(string line, ref int i)
    {
        if (i + 1 >= line.Length || line[i + 1] != ':') throw new FormatException("a blank node starts with '_:'");
        int start = i;
        i += 2;
        while (i < line.Length && !char.IsWhiteSpace(line[i]) && line[i] is not ('<' or '"')) i++;
        while (i > start + 2 && line[i - 1] == '.') i--;   // "_:b." is the node _:b and the final '.'
        if (i == start + 2) throw new FormatException("a blank node label is empty");
        return line[start..i];
    }

    static NtTerm ReadLiteral(string line, ref int i)
    {
        var text = new StringBuilder();
        for (i++; ; i++)
        {
            if (i == line.Length) throw new FormatException("a string literal is not closed with '\"'");
            char c = line[i];
            if (c == '"') { i++; break; }
            if (c == '\\')
            {
                if (i + 1 == line.Length) throw new FormatException("a string literal ends in '\\'");
                char e = line[i + 1];
                if (e is 'u' or 'U') { AppendUchar(line, ref i, text); continue; }
                text.Append(e switch
                {
                    't' => '\t', 'b' => '\b', 'n' => '\n', 'r' => '\r', 'f' => '\f', '"' => '"', '\'' => '\'', '\\' => '\\',
                    _ => throw new FormatException($"unknown escape '\\{e}' in a string literal"),
                });
                i++;
                continue;
            }
            text.Append(c);
        }
        if (i + 1 < line.Length && line[i] == '^' && line[i + 1] == '^')
        {
            i += 2;
            if (i == line.Length || line[i] != '<') throw new FormatException("'^^' must be followed by a datatype IRI <…>");
            return new NtTerm(NtTermKind.Literal, text.ToString(), Datatype: ReadIri(line, ref i));
        }
        if (i < line.Length && line[i] == '@')
        {
            int start = ++i;
            while (i < line.Length && (char.IsAsciiLetterOrDigit(line[i]) || line[i] == '-')) i++;
            if (i == start || !char.IsAsciiLetter(line[start])) throw new FormatException("a language tag must follow '@'");
            return new NtTerm(NtTermKind.Literal, text.ToString(), Language: line[start..i]);
        }
        return new NtTerm(NtTermKind.Literal, text.ToString());
    }

    // \uXXXX or \UXXXXXXXX at line[i] ('\\'); leaves i on the escape's last character.
    static void AppendUchar(string line, ref int i, StringBuilder into)
    {
        int digits = line[i + 1] == 'u' ? 4 : 8;
        if (i + 2 + digits > line.Length || !int.TryParse(line.AsSpan(i + 2, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code)
            || code < 0 || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
            throw new FormatException($"bad escape \"{Excerpt(line, i)}\" (\\u needs 4 hex digits, \\U 8, of a Unicode scalar value)");
        into.Append(char.ConvertFromUtf32(code));
        i += 1 + digits;
    }

    static string Excerpt(string line, int i) => line.Length - i > 20 ? line.Substring(i, 20) + "…" : line[i..];

    static string Show(char c) => c < ' ' ? $"\\u{(int)c:X4}" : c.ToString();

    /// <summary>An IRI written as <c>&lt;…&gt;</c>, with the characters IRIREF forbids as \u escapes.</summary>
    public static void WriteIri(TextWriter writer, string iri)
    {
        writer.Write('<');
        foreach (char c in iri)
        {
            if (c <= ' ' || c is '<' or '>' or '"' or '{' or '}' or '|' or '^' or '`' or '\\') writer.Write($"\\u{(int)c:X4}");
            else writer.Write(c);
        }
        writer.Write('>');
    }

    /// <summary>A string literal's quoted text: '"', '\\', line breaks and other controls escaped.</summary>
    public static void WriteString(TextWriter writer, string text)
    {
        writer.Write('"');
        foreach (char c in text)
        {
            switch (c)
            {
                case '"': writer.Write("\\\""); break;
                case '\\': writer.Write("\\\\"); break;
                case '\n': writer.Write("\\n"); break;
                case '\r': writer.Write("\\r"); break;
                case '\t': writer.Write("\\t"); break;
                default:
                    if (c < ' ' || c == '\u007F') writer.Write($"\\u{(int)c:X4}");
                    else writer.Write(c);
                    break;
            }
        }
        writer.Write('"');
    }
}
