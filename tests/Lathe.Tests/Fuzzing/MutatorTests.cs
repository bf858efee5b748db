using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lathe.Cli.Fuzzing;
using Lathe.Cli.Fuzzing.Targets;
using Lathe.Formats;
using Lathe.Tensors;
using Lathe.Tests.Data;

namespace Lathe.Tests.Fuzzing;

/// <summary>The fuzzer's mutators: the same seed gives the same bytes, and each structure-aware mutator changes the
/// field it claims to (checked by reading the field back with an independent walk of the bytes) and nothing else.</summary>
public class MutatorTests
{
    // A GGUF with a string, a uint, a string array and two F32 tensors, written by our writer.
    static byte[] Gguf()
    {
        using var dir = new TempDir();
        string path = dir.File("m.gguf");
        new GgufWriter().Add("general.architecture", "llama").Add("general.alignment", 32u).Add("tokenizer.ggml.tokens", new[] { "a", "bc", "def" })
            .AddTensor("token_embd.weight", [4, 2], GgmlType.F32, new byte[32]).AddTensor("output.weight", [4, 2], GgmlType.F32, new byte[32]).Save(path);
        return File.ReadAllBytes(path);
    }

    static byte[] SafetensorsBytes()
    {
        using var dir = new TempDir();
        string path = dir.File("m.safetensors");
        SafetensorsWriter.Write(path, [SafetensorsWriter.F32("a", [2, 3], new float[6]), SafetensorsWriter.F32("b", [4], new float[4])]);
        return File.ReadAllBytes(path);
    }

    static readonly byte[] Json = Encoding.UTF8.GetBytes("""{"model_type":"llama","vocab_size":320,"layers":[1,2,3],"nested":{"name":"x","eps":1e-5}}""");

    // Every byte position whose value differs; the arrays' common length (a length change is reported as -1).
    static List<int> Changed(byte[] a, byte[] b)
    {
        if (a.Length != b.Length) return [-1];
        var at = new List<int>();
        for (int i = 0; i < a.Length; i++) if (a[i] != b[i]) at.Add(i);
        return at;
    }

    public static IEnumerable<object[]> AllMutators() =>
        ByteMutators.All.Concat(GgufMutators.All).Concat(SafetensorsMutators.All).Concat(JsonMutators.All).Concat(LineMutators.Jsonl)
            .Concat(ShardMutators.All).Concat(MailMutators.All).Select(m => new object[] { m.Name });

    static Mutator Find(string name) => ByteMutators.All.Concat(GgufMutators.All).Concat(SafetensorsMutators.All).Concat(JsonMutators.All)
        .Concat(LineMutators.Jsonl).Concat(ShardMutators.All).Concat(MailMutators.All).Single(m => m.Name == name);

    static byte[] InputFor(string name) => name switch
    {
        _ when name.StartsWith("gguf", StringComparison.Ordinal) => Gguf(),
        _ when name.StartsWith("st-", StringComparison.Ordinal) => SafetensorsBytes(),
        _ when name.StartsWith("json-", StringComparison.Ordinal) => Json,
        _ when name.StartsWith("shard", StringComparison.Ordinal) => Shard(),
        _ when name.StartsWith("mail", StringComparison.Ordinal) => Encoding.ASCII.GetBytes("From: a@b\r\nSubject: =?utf-8?q?hi?=\r\nContent-Type: text/plain; charset=utf-8; boundary=\"b1\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\nbody\r\n"),
        _ => Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 6).Select(i => $"{{\"text\":\"line {i}\",\"n\":{i},\"tags\":[\"a\",{i}]}}\n"))),
    };

    static byte[] Shard()
    {
        var b = new byte[1024 + 2 * 16];
        BinaryPrimitives.WriteInt32LittleEndian(b, 20240520);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(4), 1);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(8), 16);
        return b;
    }

    [Theory]
    [MemberData(nameof(AllMutators))]
    public void The_same_seed_gives_the_same_bytes_and_the_mutator_changes_something(string name)
    {
        var mutator = Find(name);
        byte[] input = InputFor(name);
        var first = mutator.Apply(input, new Philox(42));
        Assert.Equal(first, mutator.Apply(input, new Philox(42)));
        // Over a few seeds at least one draw changes the input (a mutator may leave a draw unchanged, e.g. a swap of a line with itself).
        Assert.Contains(Enumerable.Range(0, 20), s => !mutator.Apply(input, new Philox((ulong)s)).AsSpan().SequenceEqual(input));
        Assert.Equal(InputFor(name), input);   // the input array itself is never written to
    }

    [Fact]
    public void Cases_replay_from_seed_and_index_alone()
    {
        using var target = JsonlTarget.Chat();
        using var dir = new TempDir();
        target.Prepare(dir.Path);
        var a = target.MakeCase(FuzzRandom.ForCase(7, 123));
        var b = target.MakeCase(FuzzRandom.ForCase(7, 123));
        var c = target.MakeCase(FuzzRandom.ForCase(7, 124));
        Assert.Equal(a.Mutations, b.Mutations);
        Assert.Equal(a.Files["data.jsonl"], b.Files["data.jsonl"]);
        Assert.False(a.Files["data.jsonl"].AsSpan().SequenceEqual(c.Files["data.jsonl"]) && a.Mutations == c.Mutations);
    }

    [Theory]
    [InlineData("gguf-string-length", 8)]
    [InlineData("gguf-array-count", 8)]
    [InlineData("gguf-tensor-count", 8)]
    [InlineData("gguf-kv-count", 8)]
    [InlineData("gguf-dim", 8)]
    [InlineData("gguf-n-dims", 4)]
    [InlineData("gguf-tensor-type", 4)]
    [InlineData("gguf-value-type", 4)]
    [InlineData("gguf-tensor-offset", 8)]
    public void A_GGUF_mutator_rewrites_only_the_field_it_names(string name, int width)
    {
        byte[] input = Gguf();
        var layout = GgufMutators.Walk(input);
        // The walk's positions, checked against the file: the first key is "general.architecture" at byte 24.
        Assert.Equal(24, layout.StringLengths[0]);
        Assert.Equal("general.architecture"u8.Length, (int)BinaryPrimitives.ReadUInt64LittleEndian(input.AsSpan(24)));
        Assert.Equal(2, layout.TensorOffsets.Count);
        Assert.Equal(3, layout.ArrayCounts.Count == 1 ? (int)BinaryPrimitives.ReadUInt64LittleEndian(input.AsSpan(layout.ArrayCounts[0])) : -1);
        List<int> fields = name switch
        {
            "gguf-string-length" => layout.StringLengths, "gguf-array-count" => layout.ArrayCounts, "gguf-tensor-count" => [8], "gguf-kv-count" => [16],
            "gguf-dim" => layout.Dims, "gguf-n-dims" => layout.DimCounts, "gguf-tensor-type" => layout.TensorTypes, "gguf-value-type" => layout.ValueTypes,
            _ => layout.TensorOffsets,
        };
        var mutator = Find(name);
        int changedRuns = 0;
        for (ulong s = 0; s < 30; s++)
        {
            var changed = Changed(input, mutator.Apply(input, new Philox(s)));
            if (changed.Count == 0) continue;
            changedRuns++;
            Assert.Contains(fields, f => changed.All(c => c >= f && c < f + width));
        }
        Assert.True(changedRuns > 20, $"{name} changed the file in only {changedRuns} of 30 draws");
    }

    [Fact]
    public void GGUF_invalid_UTF8_lands_inside_a_string()
    {
        byte[] input = Gguf();
        var strings = GgufMutators.Walk(input).StringBytes;
        for (ulong s = 0; s < 20; s++)
        {
            var output = GgufMutators.InvalidUtf8.Apply(input, new Philox(s));
            var changed = Changed(input, output);
            Assert.NotEmpty(changed);
            Assert.All(changed, c => Assert.Contains(strings, x => c >= x.At && c < x.At + x.Length));
            Assert.Contains(strings, x => !System.Text.Unicode.Utf8.IsValid(output.AsSpan(x.At, x.Length)));
        }
    }

    static JsonObject Header(byte[] safetensors) => (JsonObject)JsonNode.Parse(SafetensorsMutators.Split(safetensors)!.Value.Header)!;

    [Theory]
    [InlineData("st-data-offsets", "data_offsets")]
    [InlineData("st-shape", "shape")]
    [InlineData("st-dtype", "dtype")]
    public void A_safetensors_mutator_changes_one_field_of_one_tensor_and_keeps_the_header_length_true(string name, string field)
    {
        byte[] input = SafetensorsBytes();
        var before = Header(input);
        for (ulong s = 0; s < 20; s++)
        {
            var output = Find(name).Apply(input, new Philox(s));
            var after = Header(output);   // Split succeeds: the length prefix matches the new header
            Assert.Equal(SafetensorsMutators.Split(input)!.Value.Data, SafetensorsMutators.Split(output)!.Value.Data);
            var differing = new List<string>();
            foreach (var (tensor, entry) in before)
            {
                if (tensor == "__metadata__") continue;
                foreach (var key in new[] { "dtype", "shape", "data_offsets" })
                    if (!JsonNode.DeepEquals(entry![key], after[tensor]![key])) differing.Add($"{tensor}.{key}");
            }
            Assert.True(differing.Count <= 1, string.Join(", ", differing));
            Assert.All(differing, d => Assert.EndsWith("." + field, d));
        }
    }

    [Fact]
    public void The_header_length_mutator_changes_only_the_first_eight_bytes()
    {
        byte[] input = SafetensorsBytes();
        for (ulong s = 0; s < 20; s++)
            Assert.All(Changed(input, SafetensorsMutators.HeaderLength.Apply(input, new Philox(s))), c => Assert.InRange(c, 0, 7));
    }

    static int CountProperties(JsonNode? n) => n switch
    {
        JsonObject o => o.Count + o.Sum(p => CountProperties(p.Value)),
        JsonArray a => a.Sum(CountProperties),
        _ => 0,
    };

    [Fact]
    public void JSON_mutators_do_what_they_say()
    {
        int before = CountProperties(JsonNode.Parse(Json));
        for (ulong s = 0; s < 20; s++)
        {
            var r = new Philox(s);
            // A deleted field: one property fewer (or a whole nested object's worth).
            Assert.True(CountProperties(JsonNode.Parse(JsonMutators.DeleteField.Apply(Json, r))) < before);
            // A duplicated key: strict parsing refuses it, lenient parsing reads the same key twice.
            var duplicated = JsonMutators.DuplicateKey.Apply(Json, r);
            Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(duplicated, new JsonDocumentOptions { AllowDuplicateProperties = false }));
            // Invalid UTF-8 inside a string value.
            var invalid = JsonMutators.InvalidUtf8.Apply(Json, r);
            Assert.False(System.Text.Unicode.Utf8.IsValid(invalid));
            // A bad number: one of the listed literals now stands where a value was.
            string bad = Encoding.UTF8.GetString(JsonMutators.BadNumber.Apply(Json, r));
            Assert.Contains(JsonMutators.BadNumbers, n => bad.Contains(":" + n, StringComparison.Ordinal) || bad.Contains("[" + n, StringComparison.Ordinal) || bad.Contains("," + n, StringComparison.Ordinal));
            // A wrong type: the document parses and differs from the original.
            Assert.False(JsonNode.DeepEquals(JsonNode.Parse(Json), JsonNode.Parse(JsonMutators.WrongType.Apply(Json, r))));
        }
    }

    [Fact]
    public void Line_mutators_change_the_lines_as_named()
    {
        byte[] input = InputFor("line");
        string[] Lines(byte[] b) => Encoding.UTF8.GetString(b).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var original = Lines(input);
        for (ulong s = 0; s < 10; s++)
        {
            Assert.Equal(original.Length + 1, Lines(LineMutators.Duplicate.Apply(input, new Philox(s))).Length);
            Assert.Equal(original.Length - 1, Lines(LineMutators.Drop.Apply(input, new Philox(s))).Length);
            Assert.Equal(original.Order(), Lines(LineMutators.Swap.Apply(input, new Philox(s))).Order());
            Assert.True(Lines(LineMutators.LongLine.Apply(input, new Philox(s))).Max(l => l.Length) >= 1024);
        }
    }

    [Fact]
    public void The_tiktoken_rank_mutator_rewrites_one_rank_and_keeps_every_token()
    {
        byte[] input = Encoding.ASCII.GetBytes("YQ== 0\nYg== 1\nYWI= 2\n");
        string[] Tokens(byte[] b) => Encoding.ASCII.GetString(b).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]).ToArray();
        for (ulong s = 0; s < 10; s++)
        {
            var output = LineMutators.TiktokenRank.Apply(input, new Philox(s));
            Assert.Equal(Tokens(input), Tokens(output));
            var ranks = Encoding.ASCII.GetString(output).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[1]).ToArray();
            Assert.True(ranks.Count(r => !new[] { "0", "1", "2" }.Contains(r)) <= 1);
        }
    }

    [Theory]
    [InlineData("shard-magic", 0)]
    [InlineData("shard-version", 4)]
    [InlineData("shard-count", 8)]
    public void A_shard_mutator_rewrites_its_header_field(string name, int offset)
    {
        byte[] input = Shard();
        for (ulong s = 0; s < 10; s++)
        {
            var changed = Changed(input, Find(name).Apply(input, new Philox(s)));
            Assert.NotEmpty(changed);
            Assert.All(changed, c => Assert.InRange(c, offset, offset + 3));
        }
    }

    [Fact]
    public void The_charset_mutator_replaces_the_charset_value()
    {
        byte[] input = InputFor("mail");
        var outputs = Enumerable.Range(0, 20).Select(s => Encoding.ASCII.GetString(MailMutators.Charset.Apply(input, new Philox((ulong)s)))).ToList();
        string text = Encoding.ASCII.GetString(input);
        string head = text[..(text.IndexOf("charset=", StringComparison.Ordinal) + "charset=".Length)], tail = text[(head.Length + "utf-8".Length)..];
        Assert.All(outputs, o => { Assert.StartsWith(head, o); Assert.EndsWith(tail, o); });
        Assert.Contains(outputs, o => o != text);
    }
}
