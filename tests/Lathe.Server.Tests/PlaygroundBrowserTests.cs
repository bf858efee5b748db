using Lathe.Tests.Browser;
using System.Diagnostics;
using System.Text.Json;

namespace Lathe.Server.Tests;

/// <summary>The web playground in a real browser: Debian's Chromium, headless, driven by playwright-core
/// (js/playground.mjs) opens the page the server serves at /, sends a message, waits for the streamed reply and saves
/// a screenshot. The reply must be the text the API gives for the same request, and the screenshot must show a page
/// (many colours), not a blank one.</summary>
public class PlaygroundBrowserTests
{
    static string Chromium => Environment.GetEnvironmentVariable("LATHE_CHROMIUM") is { Length: > 0 } c ? c : "/usr/bin/chromium";

    static string PlaywrightModule => Path.Combine(
        Environment.GetEnvironmentVariable("LATHE_NODE_MODULES") is { Length: > 0 } env ? env : Path.Combine(RepoRoot, ".peers", "node_modules"),
        "playwright-core", "index.mjs");

    static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Lathe.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("repo root (Lathe.sln) not found");
        }
    }

    [Fact]
    public async Task A_message_sent_in_the_browser_streams_back_its_reply()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: scripts/test installs Debian's chromium (apt-get install chromium)");
        Assert.True(File.Exists(PlaywrightModule), $"{PlaywrightModule} is missing: run scripts/install-peers.sh");
        await using var h = await ServerHarness.StartAsync();
        string shot = Path.Combine(Path.GetTempPath(), $"lathe-playground-{Guid.NewGuid():N}.png");
        try
        {
            var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "js", "playground.mjs"));
            psi.ArgumentList.Add(h.Server.Address.ToString());
            psi.ArgumentList.Add(shot);
            psi.ArgumentList.Add("--chromium");
            psi.ArgumentList.Add(Chromium);
            psi.Environment["PLAYWRIGHT_MODULE"] = new Uri(PlaywrightModule).AbsoluteUri;
            using var node = Process.Start(psi)!;
            var stderr = node.StandardError.ReadToEndAsync();
            string stdout = await node.StandardOutput.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(150));
            await node.WaitForExitAsync(timeout.Token);
            Assert.True(node.ExitCode == 0, $"node exited {node.ExitCode}: {await stderr}");
            var result = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;

            Assert.Equal(0, result.GetProperty("errors").GetArrayLength());
            Assert.Contains(ServerHarness.ModelId, result.GetProperty("models").EnumerateArray().Select(m => m.GetString()));
            // The same request over the API (the page sends temperature 0.7, top_p 0.95, max_tokens 24, seed 7).
            var (status, body) = await h.PostAsync("/v1/chat/completions", new
            {
                model = ServerHarness.ModelId, messages = new[] { new { role = "user", content = "Call me Ishmael." } },
                temperature = 0.7, top_p = 0.95, max_tokens = 24, seed = 7,
            });
            Assert.Equal(200, status);
            string expected = body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
            Assert.Equal(expected, result.GetProperty("reply").GetString());
            Assert.Contains("tokens", result.GetProperty("meta").GetString());
            Assert.Contains("Generated tokens", result.GetProperty("stats").GetString());

            var (width, height, _, _) = PngPixels.Read(shot);
            Assert.Equal((1100, 700), (width, height));
            Assert.True(PngPixels.DistinctColours(shot) > 50, "the screenshot is blank");
        }
        finally { File.Delete(shot); }
    }
}
