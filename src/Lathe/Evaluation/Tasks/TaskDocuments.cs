using System.Text;
using System.Text.Json;

namespace Lathe.Evaluation.Tasks;

/// <summary>One document of a task: its JSON object and where it came from (errors name the file and line).</summary>
public sealed record TaskDocument(JsonElement Fields, string File, int Line);

/// <summary>Reads a task's documents: JSONL, one object per line, plain or gzip'd (by the .gz extension); blank lines
/// are skipped.</summary>
public static class TaskDocuments
{
    /// <exception cref="InvalidDataException">A line that is not a JSON object (file and line named), or no documents.</exception>
    public static List<TaskDocument> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: documents not found");
        using Stream input = Lathe.Data.CorpusFiles.Open(path);
        using var reader = new StreamReader(input, new UTF8Encoding(false, throwOnInvalidBytes: true));
        var documents = new List<TaskDocument>();
        int line = 0;
        try
        {
            while (reader.ReadLine() is { } text)
            {
                line++;
                if (string.IsNullOrWhiteSpace(text)) continue;
                JsonElement e;
                try
                {
                    using var doc = JsonDocument.Parse(text);
                    e = doc.RootElement.Clone();
                }
                catch (JsonException ex) { throw new InvalidDataException($"{path}: line {line}: not valid JSON: {ex.Message.Split('\n')[0]}"); }
                if (e.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: line {line}: a document must be a JSON object");
                documents.Add(new TaskDocument(e, path, line));
            }
        }
        catch (Exception ex) when (ex is DecoderFallbackException or InvalidDataException { InnerException: not null } or IOException and not FileNotFoundException)
        {
            throw new InvalidDataException($"{path}: line {line + 1}: {ex.Message.Split('\n')[0]}");
        }
        if (documents.Count == 0) throw new InvalidDataException($"{path}: no documents");
        return documents;
    }
}
