using System.Text.Json;
using Lathe.IO;

namespace Lathe.Tokenizers;

/// <summary>Writes a trained Unigram model as a complete Hugging Face tokenizer.json, SentencePiece-style: special
/// tokens as added tokens, a Metaspace pre-tokenizer and decoder, the Unigram model object. Reading goes through
/// <see cref="UnigramModel.FromJson"/> for the model object.</summary>
public static class UnigramTokenizerJson
{
    /// <summary>Writes a complete Hugging Face tokenizer.json for <paramref name="model"/>: the special tokens as added
    /// tokens (those of <paramref name="specialTokens"/> found in the vocabulary), a Metaspace pre-tokenizer and
    /// decoder (▁, prepend always, split; with byte fallback the decoder is ByteFallback then Metaspace), no
    /// normalizer, the Unigram model. Checked by hand against HF tokenizers (npm binding): it loads the file and
    /// gives the same ids as <see cref="UnigramMetaspace.Encode"/> and decodes byte pieces back to text.</summary>
    public static void Save(UnigramModel model, IReadOnlyList<string> specialTokens, string path)
    {
        AtomicFile.Write(path, stream =>
        {
            using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            w.WriteStartArray("added_tokens");
            foreach (string special in specialTokens)
            {
                if (!model.TryTokenToId(special, out int id)) continue;
                w.WriteStartObject();
                w.WriteNumber("id", id);
                w.WriteString("content", special);
                w.WriteBoolean("single_word", false);
                w.WriteBoolean("lstrip", false);
                w.WriteBoolean("rstrip", false);
                w.WriteBoolean("normalized", false);
                w.WriteBoolean("special", true);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNull("normalizer");
            WriteMetaspace(w, "pre_tokenizer");
            w.WriteNull("post_processor");
            if (model.ByteFallback)
            {
                // <0xXX> runs back into their characters first, then ▁ back into spaces (as HF's Llama decoder does).
                w.WriteStartObject("decoder");
                w.WriteString("type", "Sequence");
                w.WriteStartArray("decoders");
                w.WriteStartObject();
                w.WriteString("type", "ByteFallback");
                w.WriteEndObject();
                WriteMetaspace(w, null);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            else WriteMetaspace(w, "decoder");
            w.WritePropertyName("model");
            model.WriteJson(w);
            w.WriteEndObject();
        });
    }

    static void WriteMetaspace(Utf8JsonWriter w, string? name)
    {
        if (name is null) w.WriteStartObject(); else w.WriteStartObject(name);
        w.WriteString("type", "Metaspace");
        w.WriteString("replacement", UnigramMetaspace.Mark.ToString());
        w.WriteString("prepend_scheme", "always");
        w.WriteBoolean("split", true);
        w.WriteEndObject();
    }

}
