using System.Text.Json;
using Lathe.IO;
using Lathe.Tokenizers;

namespace Lathe.Tokenizers;

// tokenizer.json for the byte-level BPE vocabulary of a GGUF file (tokenizer.ggml.model "gpt2"): GGUF stores the tokens
// and merges in the same byte-level text form Hugging Face does, so they are written as they are.
public static partial class TokenizerJson
{
    /// <summary>Writes a GGUF "gpt2" vocabulary as a byte-level BPE tokenizer.json that <see cref="Load"/> reads back:
    /// <paramref name="tokens"/> (id = index) and <paramref name="merges"/> ("left right") as stored, the control and
    /// user-defined tokens as added tokens.</summary>
    internal static void SaveGgufBpe(string path, IReadOnlyList<string> tokens, IReadOnlyList<string> merges, IEnumerable<(string Text, int Id)> added)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++)
            if (!seen.Add(tokens[i]))
                throw new NotSupportedException($"{path}: token {i} '{tokens[i]}' repeats an earlier token's text, which tokenizer.json's vocab (a map) cannot hold.");
        AtomicFile.Write(path, stream =>
        {
            using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            WriteByteLevelFrame(w, added, normalized: false, Gpt2PreTokenizer.Instance);
            w.WriteStartObject("model");
            BpeModel.WriteByteLevelOptions(w);
            w.WriteStartObject("vocab");
            for (int i = 0; i < tokens.Count; i++) w.WriteNumber(tokens[i], i);
            w.WriteEndObject();
            w.WriteStartArray("merges");
            foreach (string m in merges) w.WriteStringValue(m);
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        });
    }
}
