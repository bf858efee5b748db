namespace Lathe.Tokenizers;

/// <summary>GPT-2's reversible map between bytes and printable characters: byte-level BPE runs on strings, so every
/// byte must be a visible character. Bytes '!'..'~', '¡'..'¬' and '®'..'ÿ' stand for themselves; the other 68 bytes
/// (controls, space, DEL, NBSP, soft hyphen) map, in byte order, to U+0100 onwards (so ' ' becomes 'Ġ').</summary>
public static class ByteLevel
{
    static readonly char[] s_byteToChar = BuildByteToChar();
    static readonly Dictionary<char, byte> s_charToByte = BuildCharToByte();

    static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    static Dictionary<char, byte> BuildCharToByte()
    {
        var d = new Dictionary<char, byte>(256);
        for (int b = 0; b < 256; b++) d[s_byteToChar[b]] = (byte)b;
        return d;
    }

    /// <summary>The character that stands for byte <paramref name="b"/>.</summary>
    public static char ByteToChar(byte b) => s_byteToChar[b];

    /// <summary>The byte-level string of some bytes (e.g. a vocabulary entry as GPT-2 writes it).</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = s_byteToChar[bytes[i]];
        return new string(chars);
    }

    /// <summary>The bytes of a byte-level string, or null if a character is not one of the 256.</summary>
    public static byte[]? Decode(string text)
    {
        var bytes = new byte[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            if (!s_charToByte.TryGetValue(text[i], out byte b)) return null;
            bytes[i] = b;
        }
        return bytes;
    }
}
