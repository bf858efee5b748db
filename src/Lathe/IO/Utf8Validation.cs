using System.Text.Unicode;

namespace Lathe.IO;

/// <summary>UTF-8 checked before JSON parsing: System.Text.Json accepts invalid UTF-8 inside strings and fails only
/// when a string is read, with an InvalidOperationException that names neither the file nor the byte.</summary>
public static class Utf8Validation
{
    /// <summary>The byte offset of the first invalid UTF-8 sequence, or null when the text is valid.</summary>
    public static int? FirstInvalid(ReadOnlySpan<byte> text)
    {
        if (Utf8.IsValid(text)) return null;
        var chars = new char[text.Length];
        Utf8.ToUtf16(text, chars, out int read, out _, replaceInvalidSequences: false);
        return read;
    }

    /// <summary>Throws a one-line <see cref="InvalidDataException"/> naming <paramref name="path"/> and the byte
    /// offset (plus <paramref name="offsetBase"/>, where the text starts in the file) of the first invalid sequence.</summary>
    public static void Require(ReadOnlySpan<byte> text, string path, string what = "", long offsetBase = 0)
    {
        if (FirstInvalid(text) is int bad)
            throw new InvalidDataException($"{path}: {what}not valid UTF-8 (byte offset {offsetBase + bad}).");
    }
}
