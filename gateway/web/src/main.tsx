import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { Chat } from "./Chat";
import { Dashboard } from "./Dashboard";
import "./styles.css";

function currentPage(): "chat" | "dashboard" {
  return window.location.hash === "#/dashboard" ? "dashboard" : "chat";
}

function App() {
  const [page, setPage] = useState(currentPage());
  useEffect(() => {
    const onHash = () => setPage(currentPage());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  return (
    <>
      <header>
        <h1>☀ Heliomesh</h1>
        <nav>
          <a href="#/chat" className={page === "chat" ? "active" : ""}>Chat</a>
          <a href="#/dashboard" className={page === "dashboard" ? "active" : ""}>Swarm dashboard</a>
          <a href="/docs">API</a>
        </nav>
      </header>
      <main>{page === "chat" ? <Chat /> : <Dashboard />}</main>
    </>
  );
}

createRoot(document.getElementById("root")!).render(<StrictMode><App /></StrictMode>);
