using System.Text;
using Lathe.Inference;
using Lathe.Models;

namespace Lathe.Tests.Inference;

/// <summary>Streaming text: UTF-8 split across tokens, stop strings held back then cut, the async stream equal to the
/// synchronous one, and a cached chat prefix giving the same tokens as a fresh start.</summary>
public class StreamingTests
{
    // A toy vocabulary of byte strings: each "token" is one UTF-8 byte of a text.
    static ToyTokenizer Bytes => ToyTokenizer.Bytes;

    static string StreamAll(TextStreamer s, byte[] bytes, List<string> pieces)
    {
        foreach (byte b in bytes) { pieces.Add(s.Push(b)); if (s.Stopped) break; }
        pieces.Add(s.Flush());
        return string.Concat(pieces);
    }

    [Fact]
    public void Characters_split_across_tokens_are_emitted_whole()
    {
        string text = "a€𝐀é中b";
        var pieces = new List<string>();
        var s = new TextStreamer(Bytes);
        Assert.Equal(text, StreamAll(s, Encoding.UTF8.GetBytes(text), pieces));
        Assert.All(pieces, p => Assert.False(p.Length > 0 && char.IsHighSurrogate(p[^1]), "a piece ends inside a surrogate pair"));
        Assert.Contains("", pieces);   // bytes of an incomplete character produce nothing yet
        Assert.Equal(text, s.Text);
    }

    [Fact]
    public void A_stop_string_is_held_back_and_never_shown()
    {
        var pieces = new List<string>();
        var s = new TextStreamer(Bytes, ["<|end|>"]);
        string shown = StreamAll(s, Encoding.UTF8.GetBytes("hello <|en world <|end|> after"), pieces);
        Assert.Equal("hello <|en world ", shown);
        Assert.True(s.Stopped);
        Assert.Equal("hello <|en world ", s.Text);
        // "<|en" was held while it could still become the stop string, then released.
        Assert.DoesNotContain(pieces, p => p.Contains("<|end"));
    }

    [Fact]
    public void Invalid_bytes_become_replacement_characters()
    {
        var s = new TextStreamer(Bytes);
        Assert.Equal("a\uFFFDb\uFFFD", StreamAll(s, [(byte)'a', 0xFF, (byte)'b', 0xE2, 0x82], []));
    }

    static CausalLM Model() => CausalLM.Create(ModelConfig.FromPresetOrFile("llama-tiny"), 5);

    [Fact]
    public async Task The_async_stream_yields_the_same_tokens_as_the_synchronous_one()
    {
        using var model = Model();
        var options = new SamplingOptions { Temperature = 0.9f, Seed = 42 };
        int[] prompt = [3, 1, 4, 1, 5];
        using var a = new Generator(model);
        var sync = a.Generate(prompt, 20, options).ToList();
        using var b = new Generator(model);
        var async = new List<int>();
        await foreach (var piece in b.GenerateAsync(prompt, 20, options, new TextStreamer(Bytes)))
            if (piece.TokenId >= 0) async.Add(piece.TokenId);
        Assert.Equal(sync, async);
    }

    [Fact]
    public void A_prompt_extending_the_cached_tokens_reuses_them_and_decodes_the_same()
    {
        using var model = Model();
        var greedy = new SamplingOptions { Temperature = 0 };
        int[] first = [7, 8, 9, 10];
        using var warm = new Generator(model);
        var reply = warm.Generate(first, 6, greedy).ToList();
        // Next turn: the old prompt, the reply, and new tokens.
        int[] second = [.. first, .. reply, 11, 12];
        var cachedRun = warm.Generate(second, 8, greedy).ToList();
        Assert.Equal(3, warm.PromptTokensProcessed);   // the last reply token (never fed) + the two new ones
        using var cold = new Generator(model);
        Assert.Equal(cold.Generate(second, 8, greedy).ToList(), cachedRun);
        Assert.Equal(second.Length, cold.PromptTokensProcessed);
        // A prompt that diverges early truncates the cache there.
        int[] third = [7, 99, 100];
        var divergent = warm.Generate(third, 5, greedy).ToList();
        Assert.Equal(2, warm.PromptTokensProcessed);
        using var cold2 = new Generator(model);
        Assert.Equal(cold2.Generate(third, 5, greedy).ToList(), divergent);
    }
}
