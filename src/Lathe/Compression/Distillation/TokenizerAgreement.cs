using System.Security.Cryptography;
using Lathe.Tokenizers;

namespace Lathe.Compression.Distillation;

/// <summary>Whether a teacher and a student read and write token ids the same way: distillation compares their
/// distributions id by id, so the two vocabularies must be the same list of tokens (size, each id's bytes, and the
/// special tokens), not merely the same size.</summary>
public static class TokenizerAgreement
{
    /// <summary>Throws a one-line <see cref="InvalidDataException"/> naming both sources and the first difference.</summary>
    /// <param name="studentOption">The option that named the student's side (--student, or --data when the data
    /// folder's tokenizer stands for every student).</param>
    public static void Require(ITokenizer teacher, string teacherSource, ITokenizer student, string studentSource, string studentOption = "--student")
    {
        string Differ(string what) => $"--teacher {teacherSource} and {studentOption} {studentSource} use different tokenizers: {what}; distillation needs one vocabulary";
        if (teacher.VocabSize != student.VocabSize)
            throw new InvalidDataException(Differ($"vocabulary {teacher.VocabSize} vs {student.VocabSize} ids"));
        var specialsA = Specials(teacher);
        var specialsB = Specials(student);
        var one = new int[1];
        for (int id = 0; id < teacher.VocabSize; id++)
        {
            // A special token is compared by its text: tokenizers differ in whether decoding writes it out.
            bool sa = specialsA.TryGetValue(id, out var ta), sb = specialsB.TryGetValue(id, out var tb);
            if (sa || sb)
            {
                if (ta != tb) throw new InvalidDataException(Differ($"id {id} is {(sa ? $"special '{ta}'" : "not special")} vs {(sb ? $"special '{tb}'" : "not special")}"));
                continue;
            }
            one[0] = id;
            byte[] a = teacher.DecodeBytes(one), b = student.DecodeBytes(one);
            if (!a.AsSpan().SequenceEqual(b))
                throw new InvalidDataException(Differ($"id {id} is {Show(a)} vs {Show(b)}"));
        }
    }

    static Dictionary<int, string> Specials(ITokenizer tokenizer)
    {
        var map = new Dictionary<int, string>();
        foreach (var (text, id) in tokenizer.SpecialTokens) map.TryAdd(id, text);
        return map;
    }

    /// <summary>A fingerprint of what <see cref="Require"/> compares (SHA-256 over the vocabulary size, each id's bytes
    /// and the special tokens, lower-case hex): two tokenizers that agree have the same one.</summary>
    public static string Fingerprint(ITokenizer tokenizer)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var specials = Specials(tokenizer);
        var one = new int[1];
        sha.AppendData(BitConverter.GetBytes(tokenizer.VocabSize));
        for (int id = 0; id < tokenizer.VocabSize; id++)
        {
            one[0] = id;
            byte[] bytes = specials.TryGetValue(id, out var text) ? System.Text.Encoding.UTF8.GetBytes("special:" + text) : tokenizer.DecodeBytes(one);
            sha.AppendData(BitConverter.GetBytes(bytes.Length));
            sha.AppendData(bytes);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    static string Show(byte[] bytes)
    {
        string text = System.Text.Encoding.UTF8.GetString(bytes);
        return text.Length <= 20 && !text.Any(char.IsControl) ? $"'{text}'" : $"0x{Convert.ToHexString(bytes.AsSpan(0, Math.Min(bytes.Length, 10)))}";
    }
}
