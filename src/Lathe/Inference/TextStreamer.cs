using System.Text;
using Lathe.Tokenizers;

namespace Lathe.Inference;

/// <summary>Turns a stream of token ids into text as it becomes final: bytes of a character split across tokens are
/// held until the character completes, and text that could be the start of a stop string is held until it either
/// completes the stop string (then generation should stop and the stop string is never shown) or cannot any more.</summary>
public sealed class TextStreamer
{
    readonly ITokenizer _tokenizer;
    readonly int[] _one = new int[1];
    readonly string[] _stops;
    readonly Decoder _utf8 = new UTF8Encoding(false).GetDecoder();
    readonly StringBuilder _text = new();
    char[] _chars = new char[64];
    int _emitted;

    /// <param name="tokenizer">Gives the bytes a token stands for (its piece of the UTF-8 text).</param>
    /// <param name="stops">Stop strings; generation stops at the first occurrence of any.</param>
    public TextStreamer(ITokenizer tokenizer, IEnumerable<string>? stops = null)
    {
        _tokenizer = tokenizer;
        _stops = stops?.Where(s => s.Length > 0).ToArray() ?? [];
    }

    /// <summary>True once a stop string has appeared; <see cref="Text"/> then ends just before it.</summary>
    public bool Stopped { get; private set; }

    /// <summary>All final text so far (what has been returned by <see cref="Push"/> and <see cref="Flush"/>).</summary>
    public string Text => _text.ToString(0, _emitted);

    /// <summary>Adds a token; returns the text that became final with it (often empty).</summary>
    public string Push(int id)
    {
        if (Stopped) return "";
        _one[0] = id;
        byte[] bytes = _tokenizer.DecodeBytes(_one);
        if (_chars.Length < bytes.Length + 4) _chars = new char[bytes.Length + 4];
        int n = _utf8.GetChars(bytes, 0, bytes.Length, _chars, 0, flush: false);
        int searchFrom = _text.Length;
        _text.Append(_chars, 0, n);
        return Release(searchFrom);
    }

    /// <summary>Ends the stream: incomplete bytes become U+FFFD and held-back text is released.</summary>
    public string Flush()
    {
        if (Stopped) return "";
        int n = _utf8.GetChars([], 0, 0, _chars, 0, flush: true);
        int searchFrom = _text.Length;
        _text.Append(_chars, 0, n);
        string released = Release(searchFrom);
        if (Stopped) return released;
        string rest = _text.ToString(_emitted, _text.Length - _emitted);
        _emitted = _text.Length;
        return released + rest;
    }

    string Release(int newFrom)
    {
        // A stop string can only newly occur ending inside the new text.
        int stopAt = -1;
        foreach (string stop in _stops)
        {
            int from = Math.Max(0, newFrom - stop.Length + 1);
            int at = IndexOf(stop, from);
            if (at >= 0 && (stopAt < 0 || at < stopAt)) stopAt = at;
        }
        int upTo;
        if (stopAt >= 0) { Stopped = true; upTo = stopAt; _text.Length = stopAt; }
        else
        {
            // Hold back the longest tail that is a proper prefix of some stop string.
            int hold = 0;
            foreach (string stop in _stops)
                for (int k = Math.Min(stop.Length - 1, _text.Length - _emitted); k > hold; k--)
                    if (EndsWith(stop, k)) { hold = k; break; }
            upTo = _text.Length - hold;
        }
        if (upTo <= _emitted) return "";
        string piece = _text.ToString(_emitted, upTo - _emitted);
        _emitted = upTo;
        return piece;
    }

    int IndexOf(string s, int from)
    {
        for (int i = from; i + s.Length <= _text.Length; i++)
        {
            int j = 0;
            while (j < s.Length && _text[i + j] == s[j]) j++;
            if (j == s.Length) return i;
        }
        return -1;
    }

    // Does the text end with the first k chars of s?
    bool EndsWith(string s, int k)
    {
        int start = _text.Length - k;
        for (int j = 0; j < k; j++) if (_text[start + j] != s[j]) return false;
        return true;
    }
}
