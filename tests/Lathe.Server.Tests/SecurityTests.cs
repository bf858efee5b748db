using System.Net.Http.Headers;
using System.Text;

namespace Lathe.Server.Tests;

/// <summary>The API key on every route but /health, the body-size limit (413 whether the size is declared or not),
/// CORS only when configured, and the loopback default.</summary>
public class SecurityTests
{
    const string Chat = """{"messages":[{"role":"user","content":"hi"}],"max_tokens":2}""";

    [Fact]
    public async Task With_an_api_key_every_route_but_health_needs_the_bearer_key()
    {
        await using var h = await ServerHarness.StartAsync(new ServerOptions { ApiKey = "sekret-123" });
        using (var missing = await h.Http.SendAsync(h.Request(HttpMethod.Post, "/v1/chat/completions", Chat)))
        {
            Assert.Equal(401, (int)missing.StatusCode);
            Assert.Equal("Bearer", missing.Headers.WwwAuthenticate.Single().Scheme);
            Assert.Contains("\"invalid_request_error\"", await missing.Content.ReadAsStringAsync());
        }
        var (wrong, body) = await h.PostAsync("/v1/chat/completions", Chat, key: "sekret-124");
        Assert.Equal(401, wrong);
        Assert.Equal("invalid_api_key", body.GetProperty("error").GetProperty("code").GetString());
        foreach (string path in new[] { "/v1/models", "/metrics", "/v1/models/tiny", "/nowhere" })
            Assert.Equal(401, (await h.GetAsync(path)).Status);
        var (right, _) = await h.PostAsync("/v1/chat/completions", Chat, key: "sekret-123");
        Assert.Equal(200, right);
        Assert.Equal(200, (await h.GetAsync("/v1/models", key: "sekret-123")).Status);
        // The readiness probe stays open, and so does the playground's page (its API calls carry the key).
        Assert.Equal(200, (await h.GetAsync("/health")).Status);
        using (var page = await h.Http.GetAsync("/"))
        {
            Assert.Equal(200, (int)page.StatusCode);
            Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
            string html = await page.Content.ReadAsStringAsync();
            Assert.Contains("/v1/chat/completions", html);
            Assert.Contains("Authorization", html);
        }
        // A key given in another scheme is no key.
        var basic = h.Request(HttpMethod.Get, "/v1/models");
        basic.Headers.Authorization = new AuthenticationHeaderValue("Basic", "sekret-123");
        using var basicResponse = await h.Http.SendAsync(basic);
        Assert.Equal(401, (int)basicResponse.StatusCode);
    }

    [Fact]
    public async Task A_body_over_the_limit_is_413_declared_or_chunked_and_the_server_carries_on()
    {
        await using var h = await ServerHarness.StartAsync(new ServerOptions { MaxBodyBytes = 4096 });
        string big = """{"messages":[{"role":"user","content":" """ + new string('x', 20_000) + "\"}]}";
        var (declared, error) = await h.PostAsync("/v1/chat/completions", big);
        Assert.Equal(413, declared);
        Assert.Equal("request_too_large", error.GetProperty("error").GetProperty("code").GetString());
        // Without Content-Length (chunked): the limit applies as the bytes arrive.
        var chunked = h.Request(HttpMethod.Post, "/v1/embeddings");
        chunked.Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big)));
        chunked.Headers.TransferEncodingChunked = true;
        using (var response = await h.Http.SendAsync(chunked))
        {
            Assert.Equal(413, (int)response.StatusCode);
            Assert.Contains("request_too_large", await response.Content.ReadAsStringAsync());
        }
        Assert.Equal(200, (await h.PostAsync("/v1/chat/completions", Chat)).Status);
        // Far past the limit the connection may be cut instead (Kestrel stops reading); either way the server carries on.
        try
        {
            var (huge, _) = await h.PostAsync("/v1/chat/completions", new string(' ', 3 << 20) + Chat);
            Assert.Equal(413, huge);
        }
        catch (HttpRequestException) { }
        // A new connection: the client's pooled one may be the one the server just cut.
        using var fresh = new HttpClient { BaseAddress = h.Server.Address };
        using var after = await fresh.PostAsync("/v1/chat/completions", new StringContent(Chat));
        Assert.Equal(200, (int)after.StatusCode);
        Assert.Empty(h.Log);
    }

    [Fact]
    public async Task Cors_headers_appear_only_for_the_configured_origin()
    {
        await using (var closed = await ServerHarness.StartAsync())
        {
            var request = closed.Request(HttpMethod.Post, "/v1/chat/completions", Chat);
            request.Headers.Add("Origin", "http://example.com");
            using var response = await closed.Http.SendAsync(request);
            Assert.Equal(200, (int)response.StatusCode);
            Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
        }
        await using var open = await ServerHarness.StartAsync(new ServerOptions { CorsOrigin = "http://example.com", ApiKey = "k" });
        // The browser's preflight carries no credentials and must pass.
        var preflight = open.Request(HttpMethod.Options, "/v1/chat/completions");
        preflight.Headers.Add("Origin", "http://example.com");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        preflight.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        using (var response = await open.Http.SendAsync(preflight))
        {
            Assert.Equal(204, (int)response.StatusCode);
            Assert.Equal("http://example.com", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        }
        var actual = open.Request(HttpMethod.Post, "/v1/chat/completions", Chat, key: "k");
        actual.Headers.Add("Origin", "http://example.com");
        using (var response = await open.Http.SendAsync(actual))
        {
            Assert.Equal(200, (int)response.StatusCode);
            Assert.Equal("http://example.com", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        }
        var other = open.Request(HttpMethod.Post, "/v1/chat/completions", Chat, key: "k");
        other.Headers.Add("Origin", "http://evil.example");
        using (var response = await open.Http.SendAsync(other))
            Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task The_server_binds_the_loopback_unless_told_otherwise()
    {
        await using var h = await ServerHarness.StartAsync();
        Assert.Equal("127.0.0.1", h.Server.Address.Host);
        Assert.Equal("127.0.0.1", new ServerOptions().Host);
    }

    [Theory]
    [InlineData(-1, null, 4096L, "port")]
    [InlineData(8080, "", 4096L, "api key")]
    [InlineData(8080, null, 10L, "max body")]
    public void Bad_options_are_refused_naming_the_option(int port, string? key, long maxBody, string name)
    {
        var e = Assert.Throws<ArgumentException>(() => new ServerOptions { Port = port, ApiKey = key, MaxBodyBytes = maxBody }.Validate());
        Assert.StartsWith(name, e.Message);
    }
}
