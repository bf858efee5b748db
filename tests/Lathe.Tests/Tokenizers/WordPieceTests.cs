using System.Text.Json;
using Lathe.Tokenizers;

namespace Lathe.Tests.Tokenizers;

/// <summary>BERT tokenization against an independent implementation of the published algorithm
/// (fixtures/make_wordpiece_fixtures.py).</summary>
public class WordPieceTests
{
    static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Tokenizers", "fixtures", name);

    [Fact]
    public void Matches_the_reference_algorithm_word_for_word_and_id_for_id()
    {
        var bert = new BertTokenizer(WordPieceModel.FromVocabFile(Fixture("wordpiece-vocab.txt")));
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Fixture("wordpiece-fixtures.json")));
        foreach (var item in doc.RootElement.EnumerateArray())
        {
            string text = item.GetProperty("text").GetString()!;
            Assert.Equal(item.GetProperty("words").EnumerateArray().Select(e => e.GetString()!).ToArray(), bert.BasicTokenize(text).ToArray());
            Assert.Equal(item.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(), bert.Encode(text).ToArray());
        }
    }

    [Fact]
    public void Decode_glues_continuations()
    {
        var bert = new BertTokenizer(WordPieceModel.FromVocabFile(Fixture("wordpiece-vocab.txt")));
        Assert.Equal("call me ishmael .", bert.Decode(bert.Encode("Call me Ishmael.")));
    }

    [Fact]
    public void A_malformed_vocab_names_the_file_and_line()
    {
        string path = Path.Combine(Path.GetTempPath(), $"lathe-{Guid.NewGuid():N}-vocab.txt");
        try
        {
            File.WriteAllLines(path, ["[UNK]", "a", "", "b"]);
            var e = Assert.Throws<InvalidDataException>(() => WordPieceModel.FromVocabFile(path));
            Assert.Contains($"{path}: line 3", e.Message);
            File.WriteAllLines(path, ["a", "b"]);
            Assert.Contains("[UNK]", Assert.Throws<InvalidDataException>(() => WordPieceModel.FromVocabFile(path)).Message);
        }
        finally { File.Delete(path); }
    }
}
