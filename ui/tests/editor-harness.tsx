// The editor of pipeline `orders` as a user with edit and run rights opens it, ready once it shows "Save draft".
import { ChakraProvider } from "@chakra-ui/react";
import { render, screen } from "@testing-library/react";
import EditorPage from "../src/pages/EditorPage";
import { system } from "../src/system";

export async function openEditor(): Promise<void> {
  render(
    <ChakraProvider value={system}>
      <EditorPage pipelineId="orders" canEdit canRun />
    </ChakraProvider>,
  );
  await screen.findByRole("button", { name: "Save draft" });
}
