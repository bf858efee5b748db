namespace Lathe.Server.Http;

/// <summary>The routes, and the label /metrics counts a request under: its route, or "other", so that arbitrary paths
/// cannot grow the metric's label set without bound.</summary>
internal static class EndpointNames
{
    public const string ChatCompletions = "/v1/chat/completions";
    public const string Completions = "/v1/completions";
    public const string Embeddings = "/v1/embeddings";
    public const string Models = "/v1/models";
    public const string Model = "/v1/models/{model}";
    public const string Health = "/health";
    public const string Metrics = "/metrics";
    public const string Playground = "/";

    public static string Label(string path) => path switch
    {
        ChatCompletions or Completions or Embeddings or Models or Health or Metrics or Playground => path,
        _ when path.StartsWith(Models + "/", StringComparison.Ordinal) => Model,
        _ => "other",
    };
}
