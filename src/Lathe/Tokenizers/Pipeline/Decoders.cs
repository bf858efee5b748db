using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Lathe.Tokenizers;

/// <summary>A decoder as Hugging Face chains them: token strings in, token strings out; the text is their
/// concatenation at the end of the chain.</summary>
public abstract class ChainDecoder : IDecoder
{
    public abstract List<string> DecodeChain(List<string> tokens);
    public string Decode(IReadOnlyList<string> tokens) => string.Concat(DecodeChain([.. tokens]));
    public abstract void WriteJson(Utf8JsonWriter writer);
}

/// <summary>WordPiece: continuation pieces (prefix "##") are glued to the previous piece, others get a space before
/// them; cleanup removes the spaces tokenization put before punctuation and English contractions.</summary>
public sealed class WordPieceDecoder(string prefix = "##", bool cleanup = true) : ChainDecoder
{
    public string Prefix { get; } = prefix;
    public bool Cleanup { get; } = cleanup;

    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            string t = tokens[i];
            if (i > 0 && t.StartsWith(Prefix, StringComparison.Ordinal)) t = t[Prefix.Length..];
            else if (i > 0) t = " " + t;
            if (Cleanup) t = CleanUp(t);
            result.Add(t);
        }
        return result;
    }

    /// <summary>The clean-up Hugging Face applies to WordPiece output.</summary>
    public static string CleanUp(string s) => s.Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",")
        .Replace(" ' ", "'").Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" do not", " don't").Replace(" 's", "'s")
        .Replace(" 've", "'ve").Replace(" 're", "'re");

    public override void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type", "WordPiece");
        w.WriteString("prefix", Prefix);
        w.WriteBoolean("cleanup", Cleanup);
        w.WriteEndObject();
    }
}

/// <summary>Metaspace: ▁ back to spaces, and the space the pre-tokenizer prepended is dropped from the first token.</summary>
public sealed class MetaspaceDecoder(char replacement = '▁', string prependScheme = "always", bool split = true) : ChainDecoder
{
    public char Replacement { get; } = replacement;
    public string PrependScheme { get; } = prependScheme;
    public bool Split { get; } = split;

    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            string t = tokens[i].Replace(Replacement, ' ');
            if (i == 0 && PrependScheme != "never" && t.StartsWith(' ')) t = t[1..];
            result.Add(t);
        }
        return result;
    }

    public override void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type", "Metaspace");
        w.WriteString("replacement", Replacement.ToString());
        w.WriteString("prepend_scheme", PrependScheme);
        w.WriteBoolean("split", Split);
        w.WriteEndObject();
    }
}

/// <summary>ByteFallback: runs of byte tokens &lt;0xNN&gt; become the text of their bytes (each byte of an invalid
/// sequence becoming U+FFFD).</summary>
public sealed class ByteFallbackDecoder : ChainDecoder
{
    public static bool TryByte(string token, out byte value)
    {
        value = 0;
        return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out value);
    }

    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        var bytes = new List<byte>();
        void Flush()
        {
            if (bytes.Count == 0) return;
            var arr = bytes.ToArray();
            try { result.Add(new UTF8Encoding(false, true).GetString(arr)); }
            catch (DecoderFallbackException) { foreach (byte _ in arr) result.Add("\uFFFD"); }
            bytes.Clear();
        }
        foreach (string t in tokens)
        {
            if (TryByte(t, out byte b)) { bytes.Add(b); continue; }
            Flush();
            result.Add(t);
        }
        Flush();
        return result;
    }

    public override void WriteJson(Utf8JsonWriter w) => Splitting.WriteType(w, "ByteFallback");
}

/// <summary>Fuse: all tokens into one.</summary>
public sealed class FuseDecoder : ChainDecoder
{
    public override List<string> DecodeChain(List<string> tokens) => [string.Concat(tokens)];
    public override void WriteJson(Utf8JsonWriter w) => Splitting.WriteType(w, "Fuse");
}

/// <summary>Strip: removes up to <c>start</c> leading and <c>stop</c> trailing occurrences of a char from each token.</summary>
public sealed class StripDecoder(char content, int start, int stop) : ChainDecoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        foreach (string t in tokens)
        {
            int s = 0, e = t.Length;
            for (int i = 0; i < start && s < e && t[s] == content; i++) s++;
            for (int i = 0; i < stop && e > s && t[e - 1] == content; i++) e--;
            result.Add(t[s..e]);
        }
        return result;
    }

    public override void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type", "Strip");
        w.WriteString("content", content.ToString());
        w.WriteNumber("start", start);
        w.WriteNumber("stop", stop);
        w.WriteEndObject();
    }
}

/// <summary>Replace: a literal string pattern by its replacement in every token (SentencePiece-converted
/// tokenizers use it to turn ▁ into spaces).</summary>
public sealed class ReplaceDecoder(string pattern, string content) : ChainDecoder
{
    public override List<string> DecodeChain(List<string> tokens) => tokens.Select(t => t.Replace(pattern, content, StringComparison.Ordinal)).ToList();

    public override void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type", "Replace");
        w.WriteStartObject("pattern");
        w.WriteString("String", pattern);
        w.WriteEndObject();
        w.WriteString("content", content);
        w.WriteEndObject();
    }
}

/// <summary>Decoders applied in order.</summary>
public sealed class SequenceDecoder(IReadOnlyList<ChainDecoder> decoders) : ChainDecoder
{
    public IReadOnlyList<ChainDecoder> Decoders { get; } = decoders;

    public override List<string> DecodeChain(List<string> tokens)
    {
        foreach (var d in Decoders) tokens = d.DecodeChain(tokens);
        return tokens;
    }

    public override void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type", "Sequence");
        w.WriteStartArray("decoders");
        foreach (var d in Decoders) d.WriteJson(w);
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
