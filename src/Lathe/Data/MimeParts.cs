using System.Text;

namespace Lathe.Data;

/// <summary>A parsed Content-Type field (RFC 2045 §5.1): lower-case media type and the parameters mail
/// reading needs. A missing or unparseable field means text/plain; charset=us-ascii (RFC 2045 §5.2).</summary>
internal readonly record struct ContentType(string MediaType, string Charset, string? Boundary)
{
    public static ContentType Parse(string? field)
    {
        if (string.IsNullOrWhiteSpace(field)) return new("text/plain", "us-ascii", null);
        var pieces = field.Split(';');
        string media = pieces[0].Trim().ToLowerInvariant();
        if (!media.Contains('/')) media = "text/plain";
        string charset = "us-ascii";
        string? boundary = null;
        for (int i = 1; i < pieces.Length; i++)
        {
            int eq = pieces[i].IndexOf('=');
            if (eq < 0) continue;
            string key = pieces[i][..eq].Trim().ToLowerInvariant();
            string value = pieces[i][(eq + 1)..].Trim().Trim('"');
            if (key == "charset") charset = value.ToLowerInvariant();
            else if (key == "boundary") boundary = pieces[i][(eq + 1)..].Trim() is var raw && raw.StartsWith('"') ? raw.Trim('"') : value;
        }
        return new(media, charset, boundary);
    }
}

/// <summary>Undoes Content-Transfer-Encoding (RFC 2045 §6): base64 and quoted-printable; anything else
/// (7bit, 8bit, binary, unknown) passes through. Both decoders tolerate damage: a truncated base64 group
/// is dropped, a malformed "=" escape is kept as it stands.</summary>
internal static class TransferEncoding
{
    public static byte[] Decode(ReadOnlySpan<byte> body, string? encoding)
    {
        string e = encoding?.Trim().ToLowerInvariant() ?? "";
        return e switch
        {
            "base64" => Base64(body),
            "quoted-printable" => QuotedPrintable(body),
            _ => body.ToArray(),
        };
    }

    /// <summary>Base64 (RFC 2045 §6.8): characters outside the alphabet are ignored; "=" ends the data.</summary>
    public static byte[] Base64(ReadOnlySpan<byte> text)
    {
        var output = new byte[text.Length * 3 / 4 + 3];
        int n = 0, bits = 0, value = 0;
        foreach (byte b in text)
        {
            int v = b switch
            {
                >= (byte)'A' and <= (byte)'Z' => b - 'A',
                >= (byte)'a' and <= (byte)'z' => b - 'a' + 26,
                >= (byte)'0' and <= (byte)'9' => b - '0' + 52,
                (byte)'+' => 62,
                (byte)'/' => 63,
                (byte)'=' => -2,
                _ => -1,
            };
            if (v == -2) break;
            if (v < 0) continue;
            value = (value << 6) | v;
            bits += 6;
            if (bits >= 8)
            {
                bits -= 8;
                output[n++] = (byte)(value >> bits);
                value &= (1 << bits) - 1;
            }
        }
        return output.AsSpan(0, n).ToArray();
    }

    /// <summary>Quoted-printable (RFC 2045 §6.7): "=XX" is a byte, "=" at a line end is a soft line break.</summary>
    public static byte[] QuotedPrintable(ReadOnlySpan<byte> text)
    {
        var output = new byte[text.Length];
        int n = 0;
        for (int i = 0; i < text.Length; i++)
        {
            byte b = text[i];
            if (b != (byte)'=') { output[n++] = b; continue; }
            if (i + 1 < text.Length && text[i + 1] == (byte)'\n') { i += 1; continue; }
            if (i + 2 < text.Length && text[i + 1] == (byte)'\r' && text[i + 2] == (byte)'\n') { i += 2; continue; }
            if (i + 2 < text.Length && Hex(text[i + 1]) is var hi and >= 0 && Hex(text[i + 2]) is var lo and >= 0)
            {
                output[n++] = (byte)(hi << 4 | lo);
                i += 2;
                continue;
            }
            output[n++] = b;
        }
        return output.AsSpan(0, n).ToArray();
    }

    static int Hex(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        _ => -1,
    };
}

/// <summary>Charset names to decoders. us-ascii and iso-8859-1 labels decode as windows-1252, as the WHATWG
/// Encoding Standard maps them (mail labelled ASCII routinely carries 8-bit Latin text); UTF-8 replaces and
/// counts invalid sequences; other names go through the code-pages provider, unknown ones to windows-1252.</summary>
internal static class Charsets
{
    static Charsets() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    public static Encoding Get(string charset, CountingDecoderFallback fallback)
    {
        switch (charset)
        {
            case "utf-8" or "utf8": return fallback.Utf8();
            case "us-ascii" or "ascii" or "iso-8859-1" or "latin1" or "windows-1252" or "cp1252" or "": return Encoding.GetEncoding(1252);
        }
        try { return Encoding.GetEncoding(charset); }
        catch (ArgumentException) { return Encoding.GetEncoding(1252); }
        catch (NotSupportedException) { return Encoding.GetEncoding(1252); }   // UTF-7: .NET refuses it (SYSLIB0001); read as unknown
    }
}

/// <summary>RFC 2047 encoded words in header fields: "=?charset?B|Q?text?=".</summary>
internal static class EncodedWords
{
    public static string Decode(string field)
    {
        if (!field.Contains("=?", StringComparison.Ordinal)) return field;
        var output = new StringBuilder(field.Length);
        int i = 0;
        bool lastWasWord = false;
        while (i < field.Length)
        {
            int start = field.IndexOf("=?", i, StringComparison.Ordinal);
            if (start < 0) { output.Append(field, i, field.Length - i); break; }
            int q1 = field.IndexOf('?', start + 2);
            int q2 = q1 < 0 ? -1 : field.IndexOf('?', q1 + 1);
            int end = q2 < 0 ? -1 : field.IndexOf("?=", q2 + 1, StringComparison.Ordinal);
            if (end < 0 || q2 != q1 + 2) { output.Append(field, i, field.Length - i); break; }
            string between = field[i..start];
            // White space between two encoded words is dropped (RFC 2047 §6.2).
            if (!(lastWasWord && string.IsNullOrWhiteSpace(between))) output.Append(between);
            string charset = field[(start + 2)..q1].ToLowerInvariant();
            char mode = char.ToUpperInvariant(field[q1 + 1]);
            byte[] raw = Encoding.Latin1.GetBytes(field[(q2 + 1)..end]);
            byte[] bytes = mode == 'B' ? TransferEncoding.Base64(raw) : TransferEncoding.QuotedPrintable(Underscores(raw));
            output.Append(Charsets.Get(charset, new CountingDecoderFallback()).GetString(bytes));
            lastWasWord = true;
            i = end + 2;
        }
        return output.ToString();
    }

    static byte[] Underscores(byte[] raw)
    {
        for (int i = 0; i < raw.Length; i++) if (raw[i] == (byte)'_') raw[i] = (byte)' ';
        return raw;
    }
}
