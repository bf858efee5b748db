using System.Text;

namespace Lathe.Data;

/// <summary>Replaces each invalid byte sequence with U+FFFD, like the default decoder, but counts the
/// replacements so a corpus report can say how much it repaired.</summary>
internal sealed class CountingDecoderFallback : DecoderFallback
{
    long count;

    /// <summary>Replacements made so far.</summary>
    public long Count => Interlocked.Read(ref count);

    public override int MaxCharCount => 1;

    public override DecoderFallbackBuffer CreateFallbackBuffer() => new Buffer(this);

    /// <summary>A strict UTF-8 decoding (no BOM emitted) whose replacements are counted here.</summary>
    public Encoding Utf8() => Encoding.GetEncoding("utf-8", EncoderFallback.ReplacementFallback, this);

    sealed class Buffer(CountingDecoderFallback owner) : DecoderFallbackBuffer
    {
        int remaining;

        public override bool Fallback(byte[] bytesUnknown, int index)
        {
            Interlocked.Increment(ref owner.count);
            remaining = 1;
            return true;
        }

        public override char GetNextChar()
        {
            if (remaining == 0) return '\0';
            remaining--;
            return '\uFFFD';
        }

        public override bool MovePrevious()
        {
            if (remaining != 0) return false;
            remaining = 1;
            return true;
        }

        public override int Remaining => remaining;

        public override void Reset() => remaining = 0;
    }
}
