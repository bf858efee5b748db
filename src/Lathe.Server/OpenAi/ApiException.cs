using System.Text.Json;

namespace Lathe.Server.OpenAi;

/// <summary>A request the server refuses, answered with OpenAI's error object
/// <c>{"error":{"message","type","param","code"}}</c> and <see cref="Status"/>. Everything a client can get wrong ends
/// here (4xx); a 5xx means a fault of the server's own.</summary>
public sealed class ApiException(int status, string message, string? param = null, string? code = null, string type = ApiException.InvalidRequest)
    : Exception(message)
{
    /// <summary>OpenAI's error type for a request the client must change.</summary>
    public const string InvalidRequest = "invalid_request_error";

    public int Status { get; } = status;
    /// <summary>The request field at fault (a JSON path such as <c>messages[2].role</c>), or null.</summary>
    public string? Param { get; } = param;
    public string? Code { get; } = code;
    public string Type { get; } = type;

    /// <summary>400 naming <paramref name="param"/>: the message reads "param: what is wrong".</summary>
    public static ApiException BadField(string param, string problem) => new(400, $"{param}: {problem}", param);

    /// <summary>The error object as OpenAI writes it.</summary>
    public void WriteTo(Utf8JsonWriter w) => Write(w, Message, Type, Param, Code);

    public static void Write(Utf8JsonWriter w, string message, string type, string? param, string? code)
    {
        w.WriteStartObject();
        w.WriteStartObject("error");
        w.WriteString("message", message);
        w.WriteString("type", type);
        if (param is null) w.WriteNull("param"); else w.WriteString("param", param);
        if (code is null) w.WriteNull("code"); else w.WriteString("code", code);
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
